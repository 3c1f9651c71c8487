/**
 * An object over CopyObject's limit on one endpoint, copied server-side by parts spread over the
 * fleet as child items: the real CLI (`convoy plan s3-sync`, two `convoy worker` processes) on the
 * embedded stack, with small limits given on the command line (`--copy-max-size 8MiB
 * --part-size 5MiB --parts-per-item 2`: a 40 MiB object is 8 parts, part 1 copied by the range
 * item, parts 2-8 by 4 child items). fauxqs lacks UploadPartCopy; the proxy in front of it does
 * one the way S3 does (test/helpers/part-copy-proxy.ts), so what convoy sends is what S3 gets.
 */
import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { runStatus } from '../../coordinator/status.js';
import { itemsOfRun } from '../../state/item-bulk.js';
import type { ItemRow } from '../../state/item-row.js';
import { getPartCopy } from '../../state/part-copies.js';
import { META_SOURCE_ETAG } from '../../worker/jobs/s3-sync/decide.js';
import { putObjects } from '../fixtures/s3-data.js';
import { exited, runCli, spawnWorker, writeCliConfig } from '../helpers/cli.js';
import { startPartCopyProxy } from '../helpers/part-copy-proxy.js';
import { accessDenied } from '../helpers/s3-proxy.js';
import { getBytes, useTwoEndpointStack } from '../helpers/s3.js';
import { freshEnv, waitUntil, type TestEnv, type TestStack } from '../helpers/stack.js';

const MiB = 1024 * 1024;
const SIZE = 40 * MiB;
const KEY = 'exports/huge.bin';

let t: TestStack;
let minio: S3Client;
useTwoEndpointStack((s) => ({ t, minio } = s));

/** `--lease-ms`: long enough that a loaded machine does not lose leases, short for the kill test */
const workerArgs = (leaseMs: number) => [
  '--processes',
  '1',
  '--lease-ms',
  String(leaseMs),
  '--wait-seconds',
  '1',
  '--concurrency',
  '2',
  '--transfers',
  '4',
  '--shutdown-deadline-ms',
  '5000',
];

async function items(env: TestEnv, runId: string): Promise<ItemRow[]> {
  const all: ItemRow[] = [];
  for await (const page of itemsOfRun(env.ctx.items, runId)) all.push(...page);
  return all;
}
const partItems = async (env: TestEnv, runId: string) =>
  (await items(env, runId)).filter((i) => i.itemId.startsWith('parts:'));
/** the worker that completed an item, from its history */
const completedBy = (i: ItemRow) => [...(i.history ?? [])].reverse().find((h) => h.event === 'completed')?.worker;

async function plan(config: string, runId: string, bucket: string) {
  const r = await runCli(
    [
      'plan',
      's3-sync',
      '--run',
      runId,
      '--from',
      `big:${bucket}`,
      '--to',
      `big:${bucket}-dst`,
      '--create-buckets',
      '--part-size',
      '5MiB',
      '--multipart-threshold',
      '5MiB',
      '--copy-max-size',
      '8MiB',
      '--parts-per-item',
      '2',
      '--backoff-base-ms',
      '100',
    ],
    { config },
  );
  expect(r.stderr).toBe('');
  expect(r.code, r.stdout).toBe(0);
}

async function waitDone(env: TestEnv, runId: string) {
  await waitUntil(async () => (await runStatus(env.ctx, runId)).run.state === 'done', {
    timeoutMs: 120_000,
    intervalMs: 200,
    what: `run ${runId} done`,
  });
  return runStatus(env.ctx, runId);
}

async function expectCopied(bucket: string) {
  const [src, dst] = await Promise.all([getBytes(minio, bucket, KEY), getBytes(minio, `${bucket}-dst`, KEY)]);
  expect(dst.length).toBe(SIZE);
  expect(dst.equals(src)).toBe(true);
  const [sh, dh] = await Promise.all([
    minio.send(new HeadObjectCommand({ Bucket: bucket, Key: KEY })),
    minio.send(new HeadObjectCommand({ Bucket: `${bucket}-dst`, Key: KEY })),
  ]);
  expect(dh.ETag).toMatch(/-8"$/); // one upload of 8 parts
  expect(dh.Metadata?.[META_SOURCE_ETAG]).toBe(sh.ETag!.replace(/"/g, ''));
}

describe('objects over CopyObject limit, parts spread over the fleet (real CLI, two workers)', () => {
  it('copies the parts on more than one worker, no bytes through them, one completion', async () => {
    const bucket = 'spread-src';
    await putObjects(minio, bucket, [
      { key: KEY, size: SIZE, contentType: 'application/octet-stream' },
      { key: 'small.txt', size: 100, contentType: 'text/plain' },
    ]);
    const env = await freshEnv(t.stack);
    const runId = 'spread1';
    let held = false;
    const { proxy, seen } = await startPartCopyProxy(t.stack.remotes.minio!.endpoint, minio, {
      sourceBucket: bucket,
      // the first child's first part waits until a second worker holds a child too: the fleet, not
      // one worker, copies the object (a fleet that never spreads times out here and fails below)
      onPartCopy: async (r) => {
        if (r.partNumber < 2 || held) return;
        held = true;
        await waitUntil(
          async () => new Set((await partItems(env, runId)).map((i) => i.leaseOwner).filter(Boolean)).size >= 2,
          { timeoutMs: 30_000, intervalMs: 100, what: 'two workers holding child items' },
        ).catch(() => undefined);
      },
    });
    const config = writeCliConfig(env, { big: { ...t.stack.remotes.minio!, name: undefined, endpoint: proxy.url } });
    const workers = [spawnWorker(config, workerArgs(30_000)), spawnWorker(config, workerArgs(30_000))];
    try {
      await plan(config, runId, bucket);
      const s = await waitDone(env, runId);
      expect(s.counts.failed).toBe(0);
      await expectCopied(bucket);
      const children = await partItems(env, runId);
      expect(children.map((i) => i.itemId.replace(/.*#/, '')).sort()).toEqual(['2-3', '4-5', '6-7', '8-8']);
      expect(children.every((i) => i.status === 'done')).toBe(true);
      const byWorker = new Set(children.map(completedBy));
      expect(byWorker.size, `child items completed by ${[...byWorker].join(', ')}`).toBeGreaterThanOrEqual(2);
      // exactly one child counted the object (the completer); all children together its parts' bytes
      expect(children.reduce((n, i) => n + (i.metrics?.objects ?? 0), 0)).toBe(1);
      expect(seen.partCopies.sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      expect(seen.completes).toBe(1);
      expect(seen.sourceGets).toBe(0);
      // the source's tags, read once by the item that creates the upload (they go on the create)
      expect(seen.taggingReads).toBe(1);
      expect((await getPartCopy(env.ctx.meta, { runId, object: `0#${KEY}` }))?.status).toBe('completed');
    } finally {
      for (const w of workers) w.kill('SIGTERM');
      await Promise.all(workers.map(exited));
      await proxy.close();
      env.close();
    }
  }, 240_000);

  it('finishes with a correct object when the worker copying a child is killed -9 mid-way', async () => {
    const bucket = 'spread-kill';
    await putObjects(minio, bucket, [{ key: KEY, size: SIZE, contentType: 'application/octet-stream' }]);
    const env = await freshEnv(t.stack);
    const runId = 'spread2';
    const workers = new Map<number, ReturnType<typeof spawnWorker>>();
    let killed: string | undefined;
    const { proxy, seen } = await startPartCopyProxy(t.stack.remotes.minio!.endpoint, minio, {
      sourceBucket: bucket,
      // part 5 is the second part of child 4-5: its worker has copied part 4 and recorded it. Kill
      // that worker -9 while the request is in flight (the part lands, the worker never hears)
      onPartCopy: async (r) => {
        if (r.partNumber !== 5 || killed) return;
        const child = (await partItems(env, runId)).find((i) => i.itemId.endsWith('#4-5'));
        const owner = child?.leaseOwner ?? '';
        const victim = [...workers.entries()].find(([pid]) => owner.includes(`-${pid}-`));
        if (!victim) return;
        killed = owner;
        victim[1].kill('SIGKILL');
        await exited(victim[1]);
      },
    });
    const config = writeCliConfig(env, { big: { ...t.stack.remotes.minio!, name: undefined, endpoint: proxy.url } });
    for (let i = 0; i < 2; i++) {
      const w = spawnWorker(config, workerArgs(15_000));
      workers.set(w.pid!, w);
    }
    try {
      await plan(config, runId, bucket);
      const s = await waitDone(env, runId);
      expect(killed, 'a worker was killed mid-child').toBeTruthy();
      expect(s.counts.failed).toBe(0);
      await expectCopied(bucket);
      const children = await partItems(env, runId);
      const redone = children.find((i) => i.itemId.endsWith('#4-5'))!;
      expect(redone.status).toBe('done');
      expect(completedBy(redone)).not.toBe(killed); // finished by the other worker
      expect(redone.attempts).toBeGreaterThanOrEqual(2);
      // part 5 was copied again (the killed attempt's copy never reached the checkpoint); part 4
      // was not (the checkpoint had it); one completion
      expect(seen.partCopies.filter((n) => n === 5).length).toBeGreaterThanOrEqual(2);
      expect(seen.partCopies.filter((n) => n === 4).length).toBe(1);
      expect(seen.completes).toBe(1);
      expect(seen.sourceGets).toBe(0);
    } finally {
      for (const w of workers.values()) w.kill('SIGTERM');
      await Promise.all([...workers.values()].map(exited));
      await proxy.close();
      env.close();
    }
  }, 240_000);

  it("fails the object with the failing child's error class and aborts the upload", async () => {
    const bucket = 'spread-deny';
    await putObjects(minio, bucket, [{ key: KEY, size: SIZE, contentType: 'application/octet-stream' }]);
    const env = await freshEnv(t.stack);
    const runId = 'spread3';
    // part 6 is refused the way S3 refuses it (403 AccessDenied: permanent, no retry)
    const { proxy, seen } = await startPartCopyProxy(t.stack.remotes.minio!.endpoint, minio, {
      sourceBucket: bucket,
      onPartCopy: (r) => (r.partNumber === 6 ? accessDenied : undefined),
    });
    const config = writeCliConfig(env, { big: { ...t.stack.remotes.minio!, name: undefined, endpoint: proxy.url } });
    const workers = [spawnWorker(config, workerArgs(30_000)), spawnWorker(config, workerArgs(30_000))];
    try {
      await plan(config, runId, bucket);
      const s = await waitDone(env, runId);
      expect(s.counts.failed).toBe(1);
      const children = await partItems(env, runId);
      const failed = children.filter((i) => i.status === 'failed');
      expect(failed.map((i) => [i.itemId.replace(/.*#/, ''), i.lastError?.errorClass])).toEqual([
        ['6-7', 'ACCESS_DENIED'],
      ]);
      expect(failed[0]!.lastError?.message).toContain(KEY);
      const row = await getPartCopy(env.ctx.meta, { runId, object: `0#${KEY}` });
      expect(row?.status).toBe('failed');
      expect(row?.lastError?.errorClass).toBe('ACCESS_DENIED');
      expect(row?.lastError?.message).toContain(KEY);
      expect(seen.aborts).toBeGreaterThanOrEqual(1);
      expect(seen.completes).toBe(0);
      await expect(minio.send(new HeadObjectCommand({ Bucket: `${bucket}-dst`, Key: KEY }))).rejects.toThrow();
    } finally {
      for (const w of workers) w.kill('SIGTERM');
      await Promise.all(workers.map(exited));
      await proxy.close();
      env.close();
    }
  }, 240_000);
});
