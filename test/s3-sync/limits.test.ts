/**
 * s3-sync's fleet-wide rate limits (`--bwlimit`, `--tpslimit`) with a real worker between two S3
 * endpoints. A limit is a lower bound on the run's duration: the assertions only say "not faster
 * than the limit allows" (after the one-second burst), which a slow machine cannot break.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { planRun } from '../../coordinator/plan.js';
import { runStatus } from '../../coordinator/status.js';
import { itemsOfRun } from '../../state/item-bulk.js';
import { specFromCli } from '../../worker/jobs/s3-sync/cli.js';
import { Worker } from '../../worker/worker.js';
import { objectBytes, putObjects, type GeneratedObject } from '../fixtures/s3-data.js';
import { getObject, listKeys, useTwoEndpointStack } from '../helpers/s3.js';
import { freshEnv, waitUntil, type TestEnv, type TestStack } from '../helpers/stack.js';

let t: TestStack;
let minio: S3Client;
let local: S3Client;
useTwoEndpointStack((s) => ({ t, minio, local } = s));

/** Plan, work to the end with one in-process worker; the run's span from first claim to last finish. */
async function timedRun(
  env: TestEnv,
  runId: string,
  raw: Record<string, unknown>,
): Promise<{ spanS: number; failed: number }> {
  await planRun(env.ctx, { kind: 's3-sync', runId, spec: raw });
  const worker = new Worker(env.ctx, {
    concurrency: 8,
    transfers: 32,
    waitSeconds: 0,
    threads: 1,
    counterFlushMs: 100,
    heartbeatMs: 500,
    leaseMs: 10_000,
  });
  const loop = worker.start();
  const status = await waitUntil(
    async () => ((await runStatus(env.ctx, runId)).run.state === 'done' ? runStatus(env.ctx, runId) : undefined),
    { timeoutMs: 60_000, what: `run ${runId} done` },
  );
  await worker.stop();
  await loop;
  let first = Infinity;
  let last = 0;
  for await (const page of itemsOfRun(env.ctx.items, runId)) {
    for (const i of page) {
      const claimed = i.history?.find((h) => h.event === 'claimed')?.atMs ?? i.createdAtMs;
      first = Math.min(first, claimed);
      last = Math.max(last, i.finishedAtMs ?? i.updatedAtMs);
    }
  }
  return { spanS: (last - first) / 1000, failed: status.counts.failed };
}

async function expectCopied(bucket: string, objects: GeneratedObject[]): Promise<void> {
  const dst = await listKeys(local, bucket);
  expect([...dst.keys()].sort()).toEqual(objects.map((o) => o.key).sort());
  const sample = objects[objects.length - 1]!;
  expect(Buffer.compare((await getObject(local, bucket, sample.key)).bytes, objectBytes(sample.key, sample.size))).toBe(
    0,
  );
}

describe('s3-sync rate limits', () => {
  it('--bwlimit 2MiB: 8 MiB take at least 3 s (6 MiB past the 1 s burst), every byte copied', async () => {
    const objects: GeneratedObject[] = Array.from({ length: 32 }, (_, i) => ({
      key: `bw/part-${String(i).padStart(3, '0')}.bin`,
      size: 256 * 1024,
      contentType: 'application/octet-stream',
    }));
    await putObjects(minio, 'limits-bw', objects);
    const env = await freshEnv(t.stack);
    const raw = specFromCli({
      from: 'minio:limits-bw',
      to: 'local:limits-bw-dst',
      createBuckets: true,
      rangeKeys: 8,
      bwlimit: '2MiB',
    });
    expect(raw.bwlimitBytesPerSecond).toBe(2 * 1024 * 1024);
    const r = await timedRun(env, 'bw', raw);
    expect(r.failed).toBe(0);
    expect(r.spanS).toBeGreaterThanOrEqual(2.9);
    await expectCopied('limits-bw-dst', objects);
    env.close();
  });

  it('--tpslimit 20: 80 objects take at least 3 s (60 past the 1 s burst), every object copied', async () => {
    const objects: GeneratedObject[] = Array.from({ length: 80 }, (_, i) => ({
      key: `tps/o-${String(i).padStart(3, '0')}.txt`,
      size: 100,
      contentType: 'text/plain',
    }));
    await putObjects(minio, 'limits-tps', objects);
    const env = await freshEnv(t.stack);
    const r = await timedRun(
      env,
      'tps',
      specFromCli({
        from: 'minio:limits-tps',
        to: 'local:limits-tps-dst',
        createBuckets: true,
        rangeKeys: 10,
        tpslimit: '20',
      }),
    );
    expect(r.failed).toBe(0);
    expect(r.spanS).toBeGreaterThanOrEqual(2.9);
    await expectCopied('limits-tps-dst', objects);
    env.close();
  });
});
