/**
 * S3 helpers for tests: read back a whole bucket, compare two buckets byte for byte.
 */
import { afterAll, beforeAll } from 'vitest';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { makeS3Client } from '../../shared/s3-clients.js';
import { startTestStack, type TestStack } from './stack.js';

export async function listKeys(
  s3: S3Client,
  bucket: string,
  prefix = '',
): Promise<Map<string, { size: number; etag: string }>> {
  const keys = new Map<string, { size: number; etag: string }>();
  let token: string | undefined;
  do {
    const out = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix || undefined, ContinuationToken: token }),
    );
    for (const o of out.Contents ?? []) keys.set(o.Key!, { size: o.Size ?? 0, etag: (o.ETag ?? '').replace(/"/g, '') });
    token = out.IsTruncated ? out.NextContinuationToken : undefined;
  } while (token);
  return keys;
}

export async function getBytes(s3: S3Client, bucket: string, key: string): Promise<Buffer> {
  const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await out.Body!.transformToByteArray());
}

export async function getObject(s3: S3Client, bucket: string, key: string) {
  const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return {
    bytes: Buffer.from(await out.Body!.transformToByteArray()),
    contentType: out.ContentType,
    metadata: out.Metadata ?? {},
  };
}

/**
 * A local stack with two S3 endpoints ("local" and "minio", standing for AWS and MinIO) and an
 * SDK client for each: the fixture of the s3-sync tests.
 */
export interface TwoEndpointStack {
  t: TestStack;
  minio: S3Client;
  local: S3Client;
  close(): Promise<void>;
}

export async function startTwoEndpointStack(): Promise<TwoEndpointStack> {
  const t = await startTestStack({ extraS3: ['minio'] });
  const minio = makeS3Client({ ...t.stack.remotes.minio!, name: 'minio' });
  const local = makeS3Client({ ...t.stack.remotes.local!, name: 'local' });
  return {
    t,
    minio,
    local,
    async close() {
      minio.destroy();
      local.destroy();
      await t.close();
    },
  };
}

/** Start a two-endpoint stack before the file's tests (handing it to `onReady`), close it after. */
export function useTwoEndpointStack(onReady: (s: TwoEndpointStack) => void): void {
  let s: TwoEndpointStack | undefined;
  beforeAll(async () => {
    s = await startTwoEndpointStack();
    onReady(s);
  });
  afterAll(async () => s?.close());
}
