/**
 * Into a destination that held nothing when the run was planned, a range's first attempt copies
 * without listing the destination (preflight.ts records `destEmptyAtPlan`; handler.ts skips the
 * listing); a retried range lists it and copies only what its first attempt did not, and so does
 * a range failed for good and put back by `convoy requeue` (its attempts start over); a run into
 * a destination that holds objects lists it as before and copies nothing twice. The real CLI, with
 * the destination behind a proxy that counts its listings and PUTs and refuses one object's PUTs
 * until told otherwise.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runStatus } from '../../coordinator/status.js';
import { objectBytes, putObjects } from '../fixtures/s3-data.js';
import { exited, runCli, spawnWorker, writeCliConfig } from '../helpers/cli.js';
import { startS3Proxy } from '../helpers/s3-proxy.js';
import { getBytes, useTwoEndpointStack } from '../helpers/s3.js';
import { freshEnv, waitUntil, type TestEnv, type TestStack } from '../helpers/stack.js';
import { cliFleet, itemTotals } from './cli-run.js';

let t: TestStack;
let minio: S3Client;
let local: S3Client;
useTwoEndpointStack((s) => ({ t, minio, local } = s));

const KEYS = Array.from({ length: 30 }, (_, i) => `f/k${String(i).padStart(2, '0')}`);
/** the object whose PUTs the proxy refuses until the destination is first listed */
const REFUSED = 'f/k17';
/** the requeue case: the object whose PUTs are refused while `refuseRequeued` is set */
const REQUEUED = 'f/k05';

describe('s3-sync into a fresh destination', () => {
  let env: TestEnv;
  const seen = { destListings: 0, refused: 0, puts: new Map<string, number>() };
  const requeue = { refuse: true, destListings: 0, puts: new Map<string, number>() };
  let proxy: Awaited<ReturnType<typeof startS3Proxy>>;
  beforeAll(async () => {
    env = await freshEnv(t.stack);
    proxy = await startS3Proxy(t.stack.remotes.local!.endpoint, {
      before(req) {
        const url = new URL(req.url ?? '/', 'http://proxy');
        // a range's listing of the destination; not the planner's look at whether it holds
        // anything (one key: planner.ts destHoldsNothing)
        const rangeListing =
          req.method === 'GET' && url.searchParams.get('list-type') === '2' && url.searchParams.get('max-keys') !== '1';
        if (rangeListing && url.pathname === '/fresh-dst') seen.destListings++;
        if (rangeListing && url.pathname === '/requeue-dst') requeue.destListings++;
        const requeued = decodeURIComponent(url.pathname.replace(/^\/requeue-dst\//, ''));
        if (req.method === 'PUT' && requeued && url.pathname.startsWith('/requeue-dst/')) {
          if (requeued === REQUEUED && requeue.refuse)
            return { status: 500, body: '<Error><Code>InternalError</Code><Message>refused</Message></Error>' };
          requeue.puts.set(requeued, (requeue.puts.get(requeued) ?? 0) + 1);
        }
        const key = decodeURIComponent(url.pathname.replace(/^\/fresh-dst\//, ''));
        if (req.method === 'PUT' && key && url.pathname.startsWith('/fresh-dst/')) {
          // refused (a retryable 500) until someone lists the destination: only a retry should,
          // so the first attempt of its range fails and the retry copies it
          if (key === REFUSED && seen.destListings === 0) {
            seen.refused++;
            return { status: 500, body: '<Error><Code>InternalError</Code><Message>refused</Message></Error>' };
          }
          seen.puts.set(key, (seen.puts.get(key) ?? 0) + 1);
        }
      },
    });
  });
  afterAll(async () => {
    env?.close();
    await proxy?.close();
  });

  it('copies each range without listing the destination; a retried range lists it and copies only what is missing; a second run copies nothing', async () => {
    await putObjects(
      minio,
      'fresh-src',
      KEYS.map((key) => ({ key, size: 200, contentType: 'text/plain' })),
    );
    const config = writeCliConfig(env, { dst: { ...t.stack.remotes.local!, endpoint: proxy.url } });
    const fleet = cliFleet(env, config);
    const plan = await runCli(
      [
        'plan',
        's3-sync',
        '--run',
        'fresh-1',
        '--from',
        'minio:fresh-src',
        '--to',
        'dst:fresh-dst',
        '--create-buckets',
        '--range-keys',
        '10',
        '--backoff-base-ms',
        '100',
        // the prefix f/ as a list item (not listed by the coordinator): the fresh destination
        // travels from the list item to the ranges it adds
        '--list-mode',
        'fleet',
      ],
      { config },
    );
    expect(plan.code, plan.stderr).toBe(0);
    await waitUntil(async () => (await runStatus(env.ctx, 'fresh-1')).run.state === 'done', {
      timeoutMs: 60_000,
      intervalMs: 200,
      what: 'run fresh-1 done',
    });
    // (the list item for f/ and its three ranges) the ranges' first attempts listed nothing; the one retry listed its range once (one page)
    // and PUT only the object its first attempt had not copied
    expect(seen.refused).toBeGreaterThan(0);
    expect(seen.destListings).toBe(1);
    expect((await runStatus(env.ctx, 'fresh-1')).counts).toMatchObject({ done: 4, failed: 0 });
    expect([...seen.puts.keys()].sort()).toEqual(KEYS);
    expect([...seen.puts.entries()].filter(([, n]) => n !== 1)).toEqual([]);
    // the retried range's metrics: its first attempt's 9 objects skipped, the refused one copied
    expect(await itemTotals(env, 'fresh-1')).toMatchObject({ objects: KEYS.length - 9, skipped: 9 });
    for (const key of KEYS) expect((await getBytes(local, 'fresh-dst', key)).equals(objectBytes(key, 200))).toBe(true);

    // the destination now holds objects: every range lists it and nothing is copied again (the
    // default list mode: the coordinator lists f/ itself and plans its three ranges, no list item)
    const listingsBefore = seen.destListings;
    const second = await fleet.run('fresh-2', [
      '--from',
      'minio:fresh-src',
      '--to',
      'dst:fresh-dst',
      '--range-keys',
      '10',
    ]);
    expect(second.counts.done).toBe(3);
    expect(seen.destListings - listingsBefore).toBeGreaterThanOrEqual(3);
    expect(await itemTotals(env, 'fresh-2')).toMatchObject({ objects: 0, skipped: KEYS.length });
    expect([...seen.puts.values()].every((n) => n === 1)).toBe(true);
    await fleet.stop();
  }, 150_000);

  it('a range failed for good and requeued lists the destination and copies only what it lacks', async () => {
    await putObjects(
      minio,
      'requeue-src',
      KEYS.map((key) => ({ key, size: 200, contentType: 'text/plain' })),
    );
    const config = writeCliConfig(env, { dst: { ...t.stack.remotes.local!, endpoint: proxy.url } });
    const worker = spawnWorker(config, ['--wait-seconds', '1']);
    try {
      // one attempt per item: the range holding the refused object fails, after copying the rest
      const plan = await runCli(
        [
          'plan',
          's3-sync',
          '--run',
          'fresh-3',
          '--from',
          'minio:requeue-src',
          '--to',
          'dst:requeue-dst',
          '--create-buckets',
          '--range-keys',
          '10',
          '--max-attempts',
          '1',
        ],
        { config },
      );
      expect(plan.code, plan.stderr).toBe(0);
      const settled = async () => {
        const c = (await runStatus(env.ctx, 'fresh-3')).counts;
        return c.done + c.failed === 3 ? c : undefined;
      };
      await waitUntil(settled, { timeoutMs: 60_000, intervalMs: 200, what: 'run fresh-3 settled' });
      // three ranges, planned by the coordinator (f/ listed at planning)
      expect(await settled()).toMatchObject({ done: 2, failed: 1 });
      expect(requeue.destListings).toBe(0);
      expect(requeue.puts.size).toBe(KEYS.length - 1);

      requeue.refuse = false;
      const r = await runCli(['requeue', '--run', 'fresh-3'], { config });
      expect(r.code, r.stderr).toBe(0);
      await waitUntil(async () => (await runStatus(env.ctx, 'fresh-3')).counts.done === 3, {
        timeoutMs: 60_000,
        intervalMs: 200,
        what: 'run fresh-3 done after the requeue',
      });
      // the requeued range listed the destination once and PUT only the object it lacked
      expect(requeue.destListings).toBe(1);
      expect([...requeue.puts.keys()].sort()).toEqual(KEYS);
      expect([...requeue.puts.entries()].filter(([, n]) => n !== 1)).toEqual([]);
      for (const key of KEYS)
        expect((await getBytes(local, 'requeue-dst', key)).equals(objectBytes(key, 200))).toBe(true);
    } finally {
      worker.kill('SIGTERM');
      expect(await exited(worker), worker.output()).toBe(0);
    }
  }, 150_000);
});
