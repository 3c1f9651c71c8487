/**
 * Reading an exported partition back from S3: GetObject -> gunzip -> lines, streamed.
 */
import { createGunzip } from 'node:zlib';
import { createInterface } from 'node:readline';
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';

/** Start a download; the body stays paused (and backpressured) until `linesOf` reads it. */
export async function openObject(s3: S3Client, bucket: string, key: string): Promise<Readable> {
  const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return out.Body as Readable;
}

/**
 * The gunzipped lines of a body. readline is created only here, when the caller starts to
 * iterate: an interface created earlier would emit lines nobody is listening to yet.
 */
export async function* linesOf(body: Readable): AsyncGenerator<string> {
  const gunzip = createGunzip();
  body.on('error', (err) => gunzip.destroy(err));
  body.pipe(gunzip);
  yield* createInterface({ input: gunzip, crlfDelay: Infinity });
}

export async function openObjectLines(s3: S3Client, bucket: string, key: string): Promise<AsyncIterable<string>> {
  return linesOf(await openObject(s3, bucket, key));
}

/** Count the lines of an exported object and hash them as the exporter did (line + "\n"). */
export async function hashObject(s3: S3Client, bucket: string, key: string): Promise<{ rows: number; sha256: string }> {
  const hash = createHash('sha256');
  let rows = 0;
  for await (const line of await openObjectLines(s3, bucket, key)) {
    hash.update(line + '\n');
    rows++;
  }
  return { rows, sha256: hash.digest('hex') };
}
