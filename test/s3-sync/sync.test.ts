/**
 * s3-sync end to end across two real S3 endpoints (two fauxqs servers), with in-process workers:
 * >= 1,000 objects including multipart ones, filters, latest-prefix, several bucket pairs,
 * server-side copy, skip-unchanged, dry-run, verify catching corruption, loss and extras, and an
 * object deleted between listing and copying.
 */
import { readFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DeleteObjectCommand, HeadBucketCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { planRun } from '../../coordinator/plan.js';
import { runStatus } from '../../coordinator/status.js';
import { getRun } from '../../state/runs.js';
import { itemsOfRun } from '../../state/item-bulk.js';
import { itemsByStatus } from '../../state/status-index.js';
import type { ItemRow } from '../../state/item-row.js';
import { s3SyncJob } from '../../worker/jobs/s3-sync/job.js';
import { dryRunS3Sync } from '../../worker/jobs/s3-sync/dry-run.js';
import { preflightS3Sync } from '../../worker/jobs/s3-sync/preflight.js';
import { s3SyncSpecSchema, type S3SyncSpec } from '../../worker/jobs/s3-sync/spec.js';
import { specFromCli } from '../../worker/jobs/s3-sync/cli.js';
import { Worker } from '../../worker/worker.js';
import { lakehouseObjects, objectBytes, putObjects, type GeneratedObject } from '../fixtures/s3-data.js';
import { getObject, listKeys, useTwoEndpointStack } from '../helpers/s3.js';
import { startS3Proxy } from '../helpers/s3-proxy.js';
import { freshEnv, waitUntil, type TestEnv, type TestStack } from '../helpers/stack.js';

let t: TestStack;
let minio: S3Client;
let local: S3Client;
useTwoEndpointStack((s) => ({ t, minio, local } = s));

async function runToEnd(
  env: TestEnv,
  runId: string,
  raw: Record<string, unknown>,
  workerOpts: Record<string, unknown> = {},
) {
  await planRun(env.ctx, { kind: 's3-sync', runId, spec: raw, retry: { backoffBaseMs: 50 } });
  const worker = new Worker(env.ctx, {
    concurrency: 8,
    transfers: 32,
    waitSeconds: 0,
    threads: 1,
    counterFlushMs: 100,
    heartbeatMs: 500,
    leaseMs: 10_000,
    ...workerOpts,
  });
  const stopped = worker.start();
  const status = await waitUntil(
    async () => {
      const s = await runStatus(env.ctx, runId);
      return s.run.state === 'done' ? s : undefined;
    },
    { timeoutMs: 90_000, what: `run ${runId} done` },
  );
  await worker.stop();
  await stopped;
  return runStatus(env.ctx, runId).then((s) => ({ ...s, firstView: status }));
}

function spec(raw: Record<string, unknown>): S3SyncSpec {
  return s3SyncSpecSchema.parse(raw);
}

describe('s3-sync between two endpoints', () => {
  const objects: GeneratedObject[] = [
    ...lakehouseObjects({ tables: 4, partsPerTable: 250, partSize: 2048 }),
    { key: 'table_00/delta/00001.bin', size: 100, contentType: 'application/octet-stream' },
    {
      key: 'exports/big-a.bin',
      size: 12 * 1024 * 1024 + 333,
      contentType: 'application/octet-stream',
      metadata: { origin: 'sim' },
    },
    { key: 'exports/big-b.bin', size: 13 * 1024 * 1024, contentType: 'application/x-custom' },
    { key: 'README.txt', size: 64, contentType: 'text/plain' },
  ];
  const included = objects.filter((o) => !o.key.endsWith('.json') && !o.key.includes('/delta/'));

  it('copies >= 1,000 objects byte for byte with filters, preserves metadata, skips unchanged on a second run, and verify catches differences', async () => {
    expect(included.length).toBeGreaterThanOrEqual(1000);
    await putObjects(minio, 'rideshare-bronze', objects);
    const env = await freshEnv(t.stack);
    const raw = specFromCli({
      from: 'minio:rideshare-{}',
      to: 'local:rideshare-123-{}',
      buckets: ['bronze'],
      exclude: ['*.json', '*/delta/*'],
      createBuckets: true,
      rangeKeys: 100,
    });

    const first = await runToEnd(env, 'first', raw);
    expect(first.counts.failed).toBe(0);
    expect(first.counters.objects).toBe(included.length);
    const dst = await listKeys(local, 'rideshare-123-bronze');
    expect([...dst.keys()].sort()).toEqual(included.map((o) => o.key).sort());
    // byte identity: single-part ETags are MD5s; multipart objects are read back whole
    const src = await listKeys(minio, 'rideshare-bronze');
    for (const o of included.filter((x) => x.size <= 8 * 1024 * 1024))
      expect(dst.get(o.key)!.etag).toBe(src.get(o.key)!.etag);
    for (const key of [
      'exports/big-a.bin',
      'exports/big-b.bin',
      'table_03/date=2026-11-05/part-00004.snappy.parquet',
    ]) {
      const got = await getObject(local, 'rideshare-123-bronze', key);
      const o = objects.find((x) => x.key === key)!;
      expect(got.bytes.equals(objectBytes(key, o.size))).toBe(true);
      expect(got.contentType).toBe(o.contentType);
      for (const [k, v] of Object.entries(o.metadata ?? {})) expect(got.metadata[k]).toBe(v);
    }
    const big = await getObject(local, 'rideshare-123-bronze', 'exports/big-a.bin');
    expect(big.metadata['convoy-sha256']).toMatch(/^[0-9a-f]{64}$/);

    const second = await runToEnd(env, 'second', raw);
    expect(second.counters.bytes).toBe(0);
    expect(second.counters.objects).toBe(0);
    expect(second.counters.skipped).toBe(included.length);

    const run = (await getRun(env.ctx.meta, 'second'))!;
    const dir = mkdtempSync(path.join(tmpdir(), 'convoy-verify-'));
    const clean = await s3SyncJob.verify!(run, spec(run.spec), env.ctx, {
      reportPath: path.join(dir, 'a.jsonl'),
      log: env.ctx.log,
    });
    expect(clean.clean).toBe(true);
    expect(clean.counts.ok).toBe(included.length);

    // corrupt one (same size, other bytes), lose one, add one
    const victim = included[10]!;
    await local.send(
      new PutObjectCommand({
        Bucket: 'rideshare-123-bronze',
        Key: victim.key,
        Body: objectBytes(victim.key, victim.size, 99),
      }),
    );
    await local.send(new DeleteObjectCommand({ Bucket: 'rideshare-123-bronze', Key: included[20]!.key }));
    await local.send(new PutObjectCommand({ Bucket: 'rideshare-123-bronze', Key: 'table_01/stray.bin', Body: 'x' }));
    const dirty = await s3SyncJob.verify!(run, spec(run.spec), env.ctx, {
      reportPath: path.join(dir, 'b.jsonl'),
      log: env.ctx.log,
    });
    expect(dirty.clean).toBe(false);
    expect(dirty.counts).toMatchObject({ checksum_differs: 1, missing: 1, extra: 1, size_differs: 0 });
    const report = readFileSync(path.join(dir, 'b.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(
      report
        .filter((l) => l.verdict)
        .map((l) => [l.verdict, l.srcKey ?? l.dstKey])
        .sort(),
    ).toEqual(
      [
        ['checksum_differs', victim.key],
        ['missing', included[20]!.key],
        ['extra', 'table_01/stray.bin'],
      ].sort(),
    );
    expect(report.at(-1)).toMatchObject({ summary: true, clean: false });

    // a third run repairs exactly the two differences
    const third = await runToEnd(env, 'third', raw);
    expect(third.counters.objects).toBe(2);
    env.close();
  });

  it('dry-run reports per pair what would be copied and writes nothing', async () => {
    await putObjects(minio, 'dry-src', objects.slice(0, 50));
    const env = await freshEnv(t.stack);
    const s = spec(
      specFromCli({
        from: 'minio:dry-src',
        to: 'local:dry-dst-never-created',
        createBuckets: true,
        exclude: ['*.json'],
      }),
    );
    const resolved = await preflightS3Sync(s, env.config, { dryRun: true });
    const report = await dryRunS3Sync(env.config, resolved);
    const expected = objects.slice(0, 50).filter((o) => !o.key.endsWith('.json'));
    expect(report).toHaveLength(1);
    expect(report[0]!.copy).toEqual({ objects: expected.length, bytes: expected.reduce((a, o) => a + o.size, 0) });
    expect(report[0]!.skip.objects).toBe(0);
    await expect(local.send(new HeadBucketCommand({ Bucket: 'dry-dst-never-created' }))).rejects.toThrow();
    env.close();
  });

  it('--latest-prefix copies only the newest snapshot; several bucket pairs in one run; server-side copy within one endpoint', async () => {
    const snaps = ['20261101T000000', '20261115T000000', '20261120T000000'];
    const snapObjs = snaps.flatMap((s) =>
      ['lines', 'words'].flatMap((c) =>
        [0, 1, 2].map((i) => ({
          key: `snapshots/${c}/${s}/chunk-${i}.bin`,
          size: 1000 + i,
          contentType: 'application/octet-stream',
        })),
      ),
    );
    await putObjects(local, 'chroma-dev', snapObjs);
    await putObjects(local, 'raw-dev', objects.slice(0, 30));
    await putObjects(local, 'cdn-dev', objects.slice(30, 60));
    const env = await freshEnv(t.stack);
    const latest = await runToEnd(
      env,
      'latest',
      specFromCli({
        from: 'local:chroma-dev',
        to: 'local:chroma-prod',
        createBuckets: true,
        latestPrefix: ['snapshots/lines', 'snapshots/words'],
      }),
    );
    expect(latest.counts.failed).toBe(0);
    const got = [...(await listKeys(local, 'chroma-prod')).keys()].sort();
    expect(got).toEqual(
      snapObjs
        .filter((o) => o.key.includes('20261120'))
        .map((o) => o.key)
        .sort(),
    );

    const pairs = await runToEnd(
      env,
      'pairs',
      specFromCli({
        from: 'local:{}-dev',
        to: 'local:{}-prod',
        buckets: ['raw', 'cdn'],
        createBuckets: true,
        listMode: 'coordinator',
      }),
    );
    expect(pairs.counts.failed).toBe(0);
    expect((await listKeys(local, 'raw-prod')).size).toBe(30);
    expect((await listKeys(local, 'cdn-prod')).size).toBe(30);
    // same endpoint and credentials: CopyObject, no bytes through the worker
    const ranges: ItemRow[] = [];
    for await (const page of itemsOfRun(env.ctx.items, 'pairs'))
      ranges.push(...page.filter((i) => (i.spec as { type: string }).type === 'range'));
    expect(ranges.length).toBeGreaterThan(0);
    expect(ranges.reduce((a, i) => a + (i.metrics?.objects ?? 0), 0)).toBe(60);
    expect(ranges.every((i) => i.metrics?.bytesThroughWorker === 0)).toBe(true);
    env.close();
  });

  it('an object deleted between the cut and the copy: its range copies the rest, is retried, lists the source and is done', async () => {
    const objs = Array.from({ length: 40 }, (_, i) => ({
      key: `k/${String(i).padStart(3, '0')}.bin`,
      size: 500,
      contentType: 'application/octet-stream',
    }));
    await putObjects(minio, 'carried-src', objs);
    const doomed = 'k/017.bin';
    // The proxy deletes the object on the emulator just before the worker's GET reaches it: the
    // range copies from the listing carried from the cut, which still names it
    const proxy = await startS3Proxy(t.stack.remotes.minio!.endpoint, {
      before: async (req) => {
        if (req.method === 'GET' && req.url?.startsWith(`/carried-src/${doomed}`))
          await minio.send(new DeleteObjectCommand({ Bucket: 'carried-src', Key: doomed }));
      },
    });
    const env = await freshEnv(t.stack, { remotes: { racy: { ...t.stack.remotes.minio!, endpoint: proxy.url } } });
    const s = await runToEnd(
      env,
      'carried',
      specFromCli({ from: 'racy:carried-src', to: 'local:carried-dst', createBuckets: true, rangeKeys: 10 }),
    );
    expect(s.counts.failed).toBe(0);
    const retried = [];
    for await (const page of itemsOfRun(env.ctx.items, 'carried')) retried.push(...page.filter((i) => i.attempts > 1));
    expect(retried.map((i) => [i.status, i.attempts, i.lastError?.errorClass])).toEqual([
      ['done', 2, 'SOURCE_CHANGED'],
    ]);
    expect(retried[0]!.lastError!.message).toContain(doomed);
    const dst = await listKeys(local, 'carried-dst');
    expect(dst.size).toBe(39);
    expect(dst.has(doomed)).toBe(false);
    await proxy.close();
    env.close();
  });

  it('an object deleted between listing and copying fails only its own item, with its class', async () => {
    const objs = Array.from({ length: 40 }, (_, i) => ({
      key: `k/${String(i).padStart(3, '0')}.bin`,
      size: 500,
      contentType: 'application/octet-stream',
    }));
    await putObjects(minio, 'racy-src', objs);
    const doomed = 'k/017.bin';
    // The proxy deletes the object on the emulator just before the worker's GET reaches it.
    const proxy = await startS3Proxy(t.stack.remotes.minio!.endpoint, {
      before: async (req) => {
        if (req.method === 'GET' && req.url?.startsWith(`/racy-src/${doomed}`))
          await minio.send(new DeleteObjectCommand({ Bucket: 'racy-src', Key: doomed }));
      },
    });
    const env = await freshEnv(t.stack, { remotes: { racy: { ...t.stack.remotes.minio!, endpoint: proxy.url } } });
    const s = await runToEnd(
      env,
      'racy',
      // --delete: the range lists the source itself (no carried listing), and that listing still
      // named the object its GET found gone
      specFromCli({ from: 'racy:racy-src', to: 'local:racy-dst', createBuckets: true, rangeKeys: 10, delete: true }),
    );
    expect(s.counts.failed).toBe(1);
    expect(s.counts.done).toBe(s.total - 1);
    expect(s.failuresByClass).toEqual({ SOURCE_OBJECT_MISSING: 1 });
    const failed = [];
    for await (const page of itemsByStatus(env.ctx.items, 'racy', 'failed')) failed.push(...page);
    expect(failed[0]!.lastError!.message).toContain(doomed);
    expect(failed[0]!.attempts).toBe(1); // permanent: not retried
    const dst = await listKeys(local, 'racy-dst');
    expect(dst.size).toBe(39);
    expect(dst.has(doomed)).toBe(false);
    await proxy.close();
    env.close();
  });
});
