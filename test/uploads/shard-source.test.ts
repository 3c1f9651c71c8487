/**
 * A shard's bytes from the carpark bucket (shard-source.ts), on the local stack's S3 with a proxy
 * in front for the faults it cannot produce: the key shapes are tried in order (a missing one
 * once, at once), a throttled GET is tried again (as the SDK's retries did before the GET became
 * a signed request of our own), and a refusal fails at once with its class.
 */
import type http from 'node:http';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeS3Client } from '../../shared/s3-clients.js';
import type { RemoteConfig } from '../../shared/config.js';
import { contentBytes, encodeShards } from '../../worker/jobs/uploads/seed/dag.js';
import { carparkKeys, indexShard, indexShardHere } from '../../worker/jobs/uploads/shard-source.js';
import { startS3Proxy, type S3ProxyOptions } from '../helpers/s3-proxy.js';
import { startTestStack, type TestStack } from '../helpers/stack.js';

const BUCKET = 'carpark-shard-source';
const slowDown = {
  status: 503,
  body: '<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>',
};

let t: TestStack;
let remote: RemoteConfig;
let shard: { cid: string; bytes: Uint8Array };

beforeAll(async () => {
  t = await startTestStack();
  remote = { ...t.stack.remotes.local!, name: 'local' } as RemoteConfig;
  const s3 = makeS3Client(remote);
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  const shards: Array<{ cid: string; bytes: Uint8Array }> = [];
  await encodeShards(contentBytes('shard-source', 300_000), 'v1-raw', 1024 * 1024, async (s) => {
    shards.push(s);
  });
  shard = shards[0]!;
  // stored by the store protocol only: the blob key shape, tried first, is missing
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: carparkKeys(shard.cid).carKey, Body: shard.bytes }));
  s3.destroy();
});
afterAll(async () => t?.close());

/** A proxy that records each GET's key shape and lets `answer` fault it (by try number). */
async function withProxy(
  answer: (shape: 'blob' | 'car', tryNumber: number) => ReturnType<NonNullable<S3ProxyOptions['before']>>,
  body: (proxied: RemoteConfig, seen: string[]) => Promise<void>,
): Promise<void> {
  const seen: string[] = [];
  const tries = { blob: 0, car: 0 };
  const proxy = await startS3Proxy(remote.endpoint!, {
    before: (req: http.IncomingMessage) => {
      const shape = req.url?.endsWith('.blob') ? 'blob' : 'car';
      seen.push(shape);
      return answer(shape, ++tries[shape]);
    },
  });
  try {
    await body({ ...remote, endpoint: proxy.url }, seen);
  } finally {
    await proxy.close();
  }
}

const source = (r: RemoteConfig) => {
  const keys = carparkKeys(shard.cid);
  return { type: 's3' as const, remote: r, bucket: BUCKET, keys: [keys.blobKey, keys.carKey] };
};

describe('shard source (carpark bucket)', () => {
  it('tries the missing key shape once, and a throttled GET again, then indexes the shard', async () => {
    await withProxy(
      (shape, n) => (shape === 'car' && n === 1 ? slowDown : undefined),
      async (proxied, seen) => {
        const index = await indexShard(source(proxied));
        expect(index.key).toBe(carparkKeys(shard.cid).carKey);
        expect(seen).toEqual(['blob', 'car', 'car']);
        expect(index.size).toBe(shard.bytes.length);
        expect(index.roots.length).toBeGreaterThan(0);
      },
    );
  });

  it('indexes a shard up to maxBytes here; a larger one is named with its key and size, one GET per key shape', async () => {
    await withProxy(
      () => undefined,
      async (proxied, seen) => {
        const whole = await indexShard(source(proxied));
        seen.length = 0;
        const here = await indexShardHere(source(proxied), { maxBytes: shard.bytes.length });
        expect(here).toEqual({ index: whole });
        expect(seen).toEqual(['blob', 'car']);
        seen.length = 0;
        const larger = await indexShardHere(source(proxied), { maxBytes: shard.bytes.length - 1 });
        expect(larger).toEqual({ larger: { key: carparkKeys(shard.cid).carKey, bytes: shard.bytes.length } });
        expect(seen).toEqual(['blob', 'car']);
      },
    );
  });

  it('fails at once, classified, when the bucket refuses the read', async () => {
    await withProxy(
      () => ({
        status: 403,
        body: '<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>',
      }),
      async (proxied, seen) => {
        await expect(indexShard(source(proxied))).rejects.toMatchObject({ errorClass: 'ACCESS_DENIED' });
        expect(seen).toEqual(['blob']);
      },
    );
  });
});
