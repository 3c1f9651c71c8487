/**
 * Live tuning of a running run (`convoy tune`, `POST /runs/:id/tune`, issue #14 item 2) through
 * the real CLI and a real `convoy worker` between two S3 endpoints:
 *  - a --tpslimit raised while a range item is being copied speeds up that very item (the
 *    worker logs the new settings within the run-state TTL, 10 s);
 *  - a fleet-wide --concurrency 1 keeps one item of the run in flight on a worker with 4 slots;
 *  - bad values exit 2 naming the flag, and nothing is written; a limit the run's kind does not
 *    have is refused;
 *  - the API's tune needs the token and says the same as the CLI; status, monitor and the API show
 *    the settings, and the run's history records each change.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiApp } from '../../monitor/api.js';
import { makeS3Client } from '../../shared/s3-clients.js';
import { countByStatus } from '../../state/status-index.js';
import { createRun, getRun } from '../../state/runs.js';
import { createBucket, putObjects } from '../fixtures/s3-data.js';
import { exited, runCli, spawnWorker, writeCliConfig } from '../helpers/cli.js';
import { freshEnv, startTestStack, waitUntil, type TestEnv, type TestStack } from '../helpers/stack.js';

let t: TestStack;
let env: TestEnv;
let config: string;
let local: S3Client;

beforeAll(async () => {
  t = await startTestStack({ extraS3: ['minio'] });
  const minio: S3Client = makeS3Client({ ...t.stack.remotes.minio!, name: 'minio' });
  await putObjects(
    minio,
    'tune-src',
    Array.from({ length: 40 }, (_, i) => ({
      key: `data/part-${String(i).padStart(3, '0')}.bin`,
      size: 1024,
      contentType: 'application/octet-stream',
    })),
  );
  minio.destroy();
  local = makeS3Client({ ...t.stack.remotes.local!, name: 'local' });
  for (const b of ['tune-dst-1', 'tune-dst-2']) await createBucket(local, b);
  env = await freshEnv(t.stack);
  config = writeCliConfig(env);
}, 60_000);
afterAll(async () => {
  local?.destroy();
  env?.close();
  await t?.close();
});

const convoy = (args: string[]) => runCli(args, { config });
const plan = (runId: string, dst: string, extra: string[]) =>
  convoy(['plan', 's3-sync', '--from', 'minio:tune-src', '--to', `local:${dst}`, '--run', runId, ...extra]);
const copied = async (bucket: string) => (await local.send(new ListObjectsV2Command({ Bucket: bucket }))).KeyCount ?? 0;

describe('convoy tune', () => {
  it('a --tpslimit raised mid-item applies to that item within the run-state TTL', async () => {
    const p = await plan('tn-1', 'tune-dst-1', ['--range-keys', '40', '--tpslimit', '1']);
    expect(p.code, p.stderr).toBe(0);
    const worker = spawnWorker(
      config,
      ['--processes', '1', '--wait-seconds', '1', '--exit-when-idle', '2000', '--run', 'tn-1'],
      { CONVOY_LOG_LEVEL: 'info', CONVOY_LOG_FORMAT: 'json' },
    );
    // at 1 object/s the single range item would take ~40 s; tune once it is under way
    await waitUntil(async () => (await copied('tune-dst-1')) >= 2, { timeoutMs: 30_000, what: 'copying under way' });
    const tunedAt = Date.now();
    const tune = await convoy(['tune', '--run', 'tn-1', '--tpslimit', '1000']);
    expect(tune.code, tune.stderr).toBe(0);
    expect(tune.stdout).toContain('run tn-1 tuned (version 1): tpslimit 1 -> 1000; workers apply it within 10 s');
    await waitUntil(() => /"msg":"run settings applied"/.test(worker.output()), {
      timeoutMs: 12_000,
      what: `the worker to apply the tune: ${worker.output().slice(-3000)}`,
    });
    const appliedAfterMs = Date.now() - tunedAt;
    expect(await exited(worker), worker.output()).toBe(0);
    const run = await getRun(env.ctx.meta, 'tn-1');
    expect(run?.state).toBe('done');
    const tookMs = run!.finishedAtMs! - tunedAt;
    // the 30-odd objects left take seconds at the new rate, not the ~35 s the old one needed
    expect(tookMs, `applied after ${appliedAfterMs} ms`).toBeLessThan(appliedAfterMs + 10_000);
    expect(await copied('tune-dst-1')).toBe(40);
    console.log(`tune applied after ${appliedAfterMs} ms; run done ${tookMs} ms after the tune`);

    const tuned = run!.runHistory!.find((h) => h.event === 'tuned');
    expect(tuned).toMatchObject({ by: 'cli', changes: { tpslimit: { from: 1, to: 1000 } } });
    const status = await convoy(['status', '--run', 'tn-1']);
    expect(status.stdout).toContain(
      'settings: concurrency none, bwlimit none, tpslimit 1000/s (tuned), max-failed none',
    );
    const monitor = await convoy(['monitor', '--run', 'tn-1']);
    expect(monitor.stdout).toContain('tpslimit 1000/s (tuned)');
  }, 120_000);

  it('--concurrency 1 holds the run to one item in flight on a worker with 4 slots', async () => {
    const p = await plan('tn-2', 'tune-dst-2', ['--range-keys', '5', '--tpslimit', '4']);
    expect(p.code, p.stderr).toBe(0);
    const tune = await convoy(['tune', '--run', 'tn-2', '--concurrency', '1']);
    expect(tune.code, tune.stderr).toBe(0);
    const worker = spawnWorker(config, [
      '--processes',
      '1',
      '--concurrency',
      '4',
      '--wait-seconds',
      '1',
      '--exit-when-idle',
      '3000',
      '--run',
      'tn-2',
    ]);
    let maxLeased = 0;
    let samples = 0;
    while (worker.exitCode === null) {
      maxLeased = Math.max(maxLeased, await countByStatus(env.ctx.items, 'tn-2', 'leased'));
      samples++;
      await new Promise((r) => setTimeout(r, 100)); // a sampling interval, not a wait for an event
    }
    expect(worker.exitCode, worker.output()).toBe(0);
    expect((await getRun(env.ctx.meta, 'tn-2'))?.state).toBe('done');
    expect(await copied('tune-dst-2')).toBe(40);
    expect(samples).toBeGreaterThan(20);
    expect(maxLeased).toBe(1);
  }, 120_000);

  it('bad values exit 2 naming the flag and write nothing; a limit the kind lacks is refused', async () => {
    await createRun(env.ctx.meta, { runId: 'tn-bad', kind: 'pg-to-s3', spec: {} });
    const before = await getRun(env.ctx.meta, 'tn-bad');
    for (const [args, said] of [
      [['--concurrency', '-1'], /--concurrency: "-1" is not a number of items/],
      [['--concurrency', '0'], /--concurrency: "0" is not a number of items/],
      [['--bwlimit', 'fast'], /--bwlimit: "fast" is no rate/],
      [['--tpslimit', '-3'], /--tpslimit: "-3" is not a positive number/],
      [['--max-failed', '150%'], /--max-failed: "150%" is more than 100%/],
      [[], /nothing to tune: give --concurrency, --bwlimit, --tpslimit or --max-failed/],
      [['--bwlimit', '10MiB'], /--bwlimit: runs of kind pg-to-s3 have no byte rate limit to tune/],
    ] as const) {
      const r = await convoy(['tune', '--run', 'tn-bad', ...args]);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(said);
    }
    const missing = await convoy(['tune', '--run', 'no-such-run', '--concurrency', '2']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('run "no-such-run" not found');
    expect(await getRun(env.ctx.meta, 'tn-bad')).toEqual(before);
  });

  it('POST /runs/:id/tune: token required, the same checks, the history records who', async () => {
    const token = 'a-test-token-of-24-chars';
    const api = createApiApp(env.ctx, { token });
    const post = (body: unknown, auth = true) =>
      api.request('/runs/tn-1/tune', {
        method: 'POST',
        headers: auth ? { authorization: `Bearer ${token}` } : {},
        body: JSON.stringify(body),
      });
    expect((await post({ maxFailed: '2%' }, false)).status).toBe(401);
    const bad = await post({ tpslimit: -1 });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { message: string }).message).toMatch(/--tpslimit: "-1"/);
    expect((await post({ speed: 3 })).status).toBe(400);
    const ok = await post({ maxFailed: '2%', bwlimit: '1MiB' });
    expect(ok.status, await ok.clone().text()).toBe(200);
    expect(await ok.json()).toMatchObject({ runId: 'tn-1', tuneVersion: 2 });
    const snap = (await (await api.request('/runs/tn-1')).json()) as { settings: Record<string, unknown> };
    expect(snap.settings).toMatchObject({
      maxFailed: { value: '2%', source: 'tuned' },
      bwlimit: { value: 1048576, source: 'tuned' },
      tpslimit: { value: 1000, source: 'tuned' },
      tuneVersion: 2,
    });
    const history = (await getRun(env.ctx.meta, 'tn-1'))!.runHistory!.filter((h) => h.event === 'tuned');
    expect(history.map((h) => h.by)).toEqual(['cli', 'api']);
    // without a token the route answers 403 and says how to configure one
    expect((await createApiApp(env.ctx).request('/runs/tn-1/tune', { method: 'POST' })).status).toBe(403);
  });
});
