/**
 * The source listed once (worker/jobs/s3-sync/carried-listing.ts): a range's message carries the
 * listing it was cut from, and its first claim copies from it instead of listing its range again;
 * an object deleted or overwritten after the cut fails that range's first attempt as retryable
 * (SOURCE_CHANGED), and the retry lists the range and copies what the source holds now; under
 * --delete nothing is carried. The real CLI (`convoy plan s3-sync`, `convoy worker`), the source
 * behind a proxy that counts the ranges' own listings (those asking for fewer than 1,000 keys: a
 * range asks for its key count + 1; the plan and list items page by 1,000).
 */
import { DeleteObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runStatus } from '../../coordinator/status.js';
import { itemsOfRun } from '../../state/item-bulk.js';
import { objectBytes, putObjects } from '../fixtures/s3-data.js';
import { exited, runCli, spawnWorker, writeCliConfig } from '../helpers/cli.js';
import { startS3Proxy } from '../helpers/s3-proxy.js';
import { getBytes, listKeys, useTwoEndpointStack } from '../helpers/s3.js';
import { freshEnv, waitUntil, type TestEnv, type TestStack } from '../helpers/stack.js';

let t: TestStack;
let minio: S3Client;
let local: S3Client;
useTwoEndpointStack((s) => ({ t, minio, local } = s));

/** 30 keys under f/ (a list item with --list-mode fleet: its ranges are cut by a worker) and 12 at the top (cut by the coordinator) */
const KEYS = [
  ...Array.from({ length: 30 }, (_, i) => `f/k${String(i).padStart(2, '0')}`),
  ...Array.from({ length: 12 }, (_, i) => `top${String(i).padStart(2, '0')}`),
];
const SIZE = 300;

describe('s3-sync: a range copies from the listing it was cut from', () => {
  let env: TestEnv;
  /** source listings by bucket: the ranges' own (max-keys below 1,000) */
  const rangeListings = new Map<string, number>();
  let proxy: Awaited<ReturnType<typeof startS3Proxy>>;
  beforeAll(async () => {
    env = await freshEnv(t.stack);
    proxy = await startS3Proxy(t.stack.remotes.minio!.endpoint, {
      before(req) {
        const url = new URL(req.url ?? '/', 'http://proxy');
        const maxKeys = Number(url.searchParams.get('max-keys') ?? 1000);
        if (req.method === 'GET' && url.searchParams.get('list-type') === '2' && maxKeys < 1000) {
          const bucket = url.pathname.split('/')[1]!;
          rangeListings.set(bucket, (rangeListings.get(bucket) ?? 0) + 1);
        }
      },
    });
  });
  afterAll(async () => {
    env?.close();
    await proxy?.close();
  });

  const plan = async (config: string, runId: string, src: string, dst: string, extra: string[] = []) => {
    const r = await runCli(
      [
        'plan',
        's3-sync',
        '--run',
        runId,
        '--from',
        `src:${src}`,
        '--to',
        `local:${dst}`,
        '--create-buckets',
        '--range-keys',
        '10',
        '--list-mode',
        'fleet',
        '--backoff-base-ms',
        '100',
        ...extra,
      ],
      { config },
    );
    expect(r.code, r.stderr).toBe(0);
  };
  const done = (runId: string) =>
    waitUntil(async () => (await runStatus(env.ctx, runId)).run.state === 'done', {
      timeoutMs: 60_000,
      intervalMs: 200,
      what: `run ${runId} done`,
    });
  const itemsOf = async (runId: string) => {
    const items = [];
    for await (const page of itemsOfRun(env.ctx.items, runId)) items.push(...page);
    return items;
  };

  it('lists no range again on first claims; under --delete every range lists its own', async () => {
    await putObjects(
      minio,
      'carry-src',
      KEYS.map((key) => ({ key, size: SIZE, contentType: 'application/octet-stream' })),
    );
    const config = writeCliConfig(env, { src: { ...t.stack.remotes.minio!, endpoint: proxy.url } });
    const worker = spawnWorker(config, ['--wait-seconds', '1', '--concurrency', '4']);
    try {
      await plan(config, 'carry-1', 'carry-src', 'carry-dst');
      await done('carry-1');
      const items = await itemsOf('carry-1');
      // 3 ranges of f/ (from its list item), 2 of the top level (from the coordinator), the list item
      expect(items.filter((i) => i.itemId.startsWith('range:')).length).toBe(5);
      expect(items.every((i) => i.status === 'done' && i.attempts === 1)).toBe(true);
      // the listing rode in the messages only: no row holds it (the rows as DynamoDB returns them)
      expect(items.filter((i) => 'hint' in i)).toEqual([]);
      expect(rangeListings.get('carry-src') ?? 0).toBe(0);
      expect([...(await listKeys(local, 'carry-dst')).keys()].sort()).toEqual([...KEYS].sort());
      for (const key of KEYS)
        expect((await getBytes(local, 'carry-dst', key)).equals(objectBytes(key, SIZE))).toBe(true);

      // --delete: the listing is never carried (a key added since the cut would be deleted)
      await plan(config, 'carry-2', 'carry-src', 'carry-dst', ['--delete']);
      await done('carry-2');
      // at least one call each (the top level's range pages on past the child prefix f/; the
      // open-ended last range of each prefix pages by 1,000, so it is not counted here)
      const ranges = (await itemsOf('carry-2')).filter((i) => i.itemId.startsWith('range:'));
      const bounded = ranges.filter((i) => (i.spec as { toEnd?: boolean }).toEnd !== true);
      expect(bounded.length).toBeGreaterThanOrEqual(4);
      expect(rangeListings.get('carry-src')).toBeGreaterThanOrEqual(bounded.length);
    } finally {
      worker.kill('SIGTERM');
      expect(await exited(worker), worker.output()).toBe(0);
    }
  }, 120_000);

  it('an object deleted or overwritten after the cut: its range is retried, lists the source, copies what it holds now', async () => {
    await putObjects(
      minio,
      'stale-src',
      KEYS.map((key) => ({ key, size: SIZE, contentType: 'application/octet-stream' })),
    );
    const config = writeCliConfig(env, { src: { ...t.stack.remotes.minio!, endpoint: proxy.url } });
    // planned with no worker running: the ranges' messages wait while the source changes
    await plan(config, 'stale-1', 'stale-src', 'stale-dst', ['--list-mode', 'coordinator']);
    const GONE = 'f/k03';
    const CHANGED = 'top05';
    await minio.send(new DeleteObjectCommand({ Bucket: 'stale-src', Key: GONE }));
    await minio.send(
      new PutObjectCommand({ Bucket: 'stale-src', Key: CHANGED, Body: objectBytes(CHANGED, SIZE + 7, 2) }),
    );
    const worker = spawnWorker(config, ['--wait-seconds', '1', '--concurrency', '4']);
    try {
      await done('stale-1');
      const ranges = (await itemsOf('stale-1')).filter((i) => i.itemId.startsWith('range:'));
      const retried = ranges.filter((i) => i.attempts > 1);
      // the two ranges that held them, once each, for the source having changed
      expect(retried.map((i) => [i.status, i.attempts, i.lastError?.errorClass])).toEqual([
        ['done', 2, 'SOURCE_CHANGED'],
        ['done', 2, 'SOURCE_CHANGED'],
      ]);
      expect(ranges.every((i) => i.status === 'done')).toBe(true);
      expect(rangeListings.get('stale-src')).toBe(2);
      const expected = KEYS.filter((k) => k !== GONE).sort();
      expect([...(await listKeys(local, 'stale-dst')).keys()].sort()).toEqual(expected);
      expect((await getBytes(local, 'stale-dst', CHANGED)).equals(objectBytes(CHANGED, SIZE + 7, 2))).toBe(true);
    } finally {
      worker.kill('SIGTERM');
      expect(await exited(worker), worker.output()).toBe(0);
    }
  }, 120_000);
});
