/**
 * A report's S3 destination (`convoy report --out s3://bucket/key --remote name`): one multipart
 * `Upload` (lib-storage) fed by the report's stream, holding at most queueSize x partSize =
 * 4 x 5 MiB. Its own module, imported when a report goes to S3: the run commands that share
 * ./report.ts's module (`convoy status` and the rest) then never load the S3 client.
 */
import { PassThrough, type Writable } from 'node:stream';
import { Upload } from '@aws-sdk/lib-storage';
import type { RemoteConfig } from '../shared/config.js';
import { makeS3Client } from '../shared/s3-clients.js';

export async function uploadReport(
  remote: RemoteConfig,
  object: { bucket: string; key: string; contentType: string; contentEncoding?: string },
  write: (body: Writable) => Promise<void>,
): Promise<void> {
  const s3 = makeS3Client(remote);
  try {
    const body = new PassThrough();
    const upload = new Upload({
      client: s3,
      params: {
        Bucket: object.bucket,
        Key: object.key,
        Body: body,
        ContentType: object.contentType,
        ...(object.contentEncoding ? { ContentEncoding: object.contentEncoding } : {}),
      },
      queueSize: 4,
      partSize: 5 * 1024 * 1024,
    });
    const done = upload.done();
    // a failed upload must stop the writer too (or it would wait on a body nobody reads)
    done.catch((err) => body.destroy(err));
    await Promise.all([write(body), done]);
  } finally {
    s3.destroy();
  }
}
