/**
 * Objects over CopyObject's limit, and part sizes that grow so an upload stays within its parts
 * limit. AWS's numbers (5 GiB, 10,000 parts) cannot be reached in a test, so the run's spec
 * gives small ones (`s3Limits`; the real ones are unit-tested in s3-limits.test.ts), and a proxy
 * in front of the emulator enforces them the way S3 does: CopyObject of a source over the limit
 * is refused with S3's 400 InvalidRequest. fauxqs answers UploadPartCopy with HTTP 500 (it does
 * not implement it); the proxy's other mode implements it (a ranged GET and an UploadPart on the
 * emulator, test/helpers/part-copy-proxy.ts), as S3 does, so both of convoy's paths are driven.
 */
import { HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { planRun } from '../../coordinator/plan.js';
import { specFromCli } from '../../worker/jobs/s3-sync/cli.js';
import { META_SOURCE_ETAG } from '../../worker/jobs/s3-sync/decide.js';
import { objectBytes, putObjects } from '../fixtures/s3-data.js';
import { getBytes, listKeys, useTwoEndpointStack } from '../helpers/s3.js';
import { startPartCopyProxy } from '../helpers/part-copy-proxy.js';
import { workUntilDone } from '../helpers/in-process-run.js';
import { freshEnv, type TestStack } from '../helpers/stack.js';

const MiB = 1024 * 1024;
/** the limits the run is given: CopyObject up to 6 MiB, 2 parts per upload */
const LIMITS = { copyObjectMaxBytes: 6 * MiB, maxParts: 2 };
const LARGE = 13 * MiB;

let t: TestStack;
let minio: S3Client;
useTwoEndpointStack((s) => ({ t, minio } = s));

/**
 * A proxy that enforces LIMITS.copyObjectMaxBytes on CopyObject as S3 does its 5 GiB, and, with
 * `implementPartCopy`, does UploadPartCopy (test/helpers/part-copy-proxy.ts); without it fauxqs
 * answers UploadPartCopy with its HTTP 500.
 */
async function limitProxy(implementPartCopy: boolean, sourceBucket: string) {
  const refused = { copies: 0 };
  const { proxy, seen } = await startPartCopyProxy(t.stack.remotes.minio!.endpoint, minio, {
    sourceBucket,
    native: !implementPartCopy,
    onCopyObject: async (source) => {
      const head = await minio.send(new HeadObjectCommand({ Bucket: source.bucket, Key: source.key }));
      if ((head.ContentLength ?? 0) <= LIMITS.copyObjectMaxBytes) return;
      refused.copies++;
      return {
        status: 400,
        body: `<?xml version="1.0" encoding="UTF-8"?><Error><Code>InvalidRequest</Code><Message>The specified copy source is larger than the maximum allowable size for a copy source: ${LIMITS.copyObjectMaxBytes}</Message></Error>`,
      };
    },
  });
  return { proxy, seen, refused };
}

async function syncThrough(endpoint: string, runId: string, bucket: string) {
  const env = await freshEnv(t.stack, { remotes: { big: { ...t.stack.remotes.minio!, endpoint } } });
  const spec = {
    ...specFromCli({
      from: `big:${bucket}`,
      to: `big:${bucket}-dst`,
      createBuckets: true,
      multipartThreshold: '5MiB',
      partSize: '5MiB',
    }),
    s3Limits: LIMITS,
  };
  await planRun(env.ctx, { kind: 's3-sync', runId, spec, retry: { backoffBaseMs: 50, maxAttempts: 2 } });
  const status = await workUntilDone(env, runId, { concurrency: 4, transfers: 8 });
  env.close();
  return status;
}

async function seedBucket(bucket: string) {
  await putObjects(minio, bucket, [
    { key: 'small.bin', size: 1024, contentType: 'application/octet-stream' },
    { key: 'large.bin', size: LARGE, contentType: 'application/octet-stream' },
  ]);
  // a source object written in one PUT: its ETag is the MD5, as most objects' are
  await minio.send(new PutObjectCommand({ Bucket: bucket, Key: 'medium.bin', Body: objectBytes('medium.bin', MiB) }));
}

async function expectSameBytes(bucket: string) {
  const dst = await listKeys(minio, `${bucket}-dst`);
  expect([...dst.keys()].sort()).toEqual(['large.bin', 'medium.bin', 'small.bin']);
  for (const key of dst.keys())
    expect((await getBytes(minio, `${bucket}-dst`, key)).equals(await getBytes(minio, bucket, key))).toBe(true);
  return dst;
}

describe('objects over CopyObject limit (small limits given to the run, enforced by a proxy)', () => {
  it('are streamed in parts sized to the parts limit where the endpoint has no UploadPartCopy', async () => {
    const bucket = 'big-stream';
    await seedBucket(bucket);
    const { proxy, seen, refused } = await limitProxy(false, bucket);
    const s = await syncThrough(proxy.url, 'big1', bucket);
    expect(s.counts.failed).toBe(0);
    const dst = await expectSameBytes(bucket);
    // 13 MiB in at most 2 parts: 7 MiB parts, where the configured 5 MiB would have made 3
    expect(dst.get('large.bin')!.etag).toMatch(/-2$/);
    expect(refused.copies).toBe(0); // convoy never asks CopyObject for more than it allows
    expect(seen.partCopies.length).toBeGreaterThan(0); // tried by parts first, fell back to streaming
    expect(seen.sourceGets).toBe(1);
    const head = await minio.send(new HeadObjectCommand({ Bucket: `${bucket}-dst`, Key: 'large.bin' }));
    expect(head.Metadata?.[META_SOURCE_ETAG]).toBeTruthy();
    await proxy.close();
  }, 180_000);

  it('are copied server-side by parts (UploadPartCopy) where the endpoint has it', async () => {
    const bucket = 'big-parts';
    await seedBucket(bucket);
    const { proxy, seen, refused } = await limitProxy(true, bucket);
    const s = await syncThrough(proxy.url, 'big2', bucket);
    expect(s.counts.failed).toBe(0);
    const dst = await expectSameBytes(bucket);
    expect(dst.get('large.bin')!.etag).toMatch(/-2$/);
    expect(refused.copies).toBe(0);
    expect(seen.partCopies.sort()).toEqual([1, 2]);
    expect(seen.sourceGets).toBe(0); // no byte of it through the worker
    const head = await minio.send(new HeadObjectCommand({ Bucket: `${bucket}-dst`, Key: 'large.bin' }));
    const src = await minio.send(new HeadObjectCommand({ Bucket: bucket, Key: 'large.bin' }));
    expect(head.Metadata?.[META_SOURCE_ETAG]).toBe(src.ETag!.replace(/"/g, ''));
    await proxy.close();
  }, 180_000);
});
