/**
 * Failure tolerance (`convoy plan <kind> --max-failed N|P%`, issue #14 item 3) through the real CLI
 * (the test-only `tally` kind's CLI; its S3 endpoint is a proxy that refuses the writes to one
 * bucket with S3's own 403 AccessDenied, so items fail for a real reason): the worker whose item fails past the limit pauses the run with one
 * conditional write; `status`, `monitor` and the API say why and what to do; `tune --max-failed`
 * and `resume` let it go on; the report lists the failures with their HTTP status.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countByStatus } from '../../state/status-index.js';
import { getRun } from '../../state/runs.js';
import { createApiApp } from '../../monitor/api.js';
import { runCli, writeCliConfig } from '../helpers/cli.js';
import { accessDenied, startS3Proxy } from '../helpers/s3-proxy.js';
import { freshEnv, startTestStack, waitUntil, type TestEnv, type TestStack } from '../helpers/stack.js';

const TALLY_CLI = path.resolve('dist/test/plugins/convoy-tally-cli.js');
const tally = (args: string[]) => runCli(args, { cli: TALLY_CLI, config });

let t: TestStack;
let env: TestEnv;
let config: string;
let proxy: Awaited<ReturnType<typeof startS3Proxy>>;
beforeAll(async () => {
  t = await startTestStack();
  env = await freshEnv(t.stack);
  const local = env.config.remotes.local!;
  proxy = await startS3Proxy(local.endpoint!, {
    before: (req) => (req.method === 'PUT' && req.url?.startsWith('/refused/') ? accessDenied : undefined),
  });
  const { name: _name, ...remote } = local;
  config = writeCliConfig(env, { local: { ...remote, endpoint: proxy.url } });
}, 60_000);
afterAll(async () => {
  await proxy?.close();
  env?.close();
  await t?.close();
});

// one process with one item in flight: the failure that passes the limit is the last one taken
const worker = (runId: string) =>
  runCli(
    [
      'worker',
      '--processes',
      '1',
      '--concurrency',
      '1',
      '--wait-seconds',
      '1',
      '--exit-when-idle',
      '2500',
      '--run',
      runId,
    ],
    { cli: TALLY_CLI, config },
  );

describe('--max-failed: a run that fails too much pauses itself', () => {
  it('bad values exit 2 naming the flag, and no run is created', async () => {
    for (const [value, said] of [
      ['150%', /--max-failed: "150%" is more than 100%/],
      ['-2', /--max-failed: "-2" is neither a number of items/],
      ['lots', /--max-failed: "lots" is neither/],
    ] as const) {
      const r = await tally([
        'plan',
        'tally',
        '--bucket',
        'refused',
        '--count',
        '3',
        '--run',
        'mf-bad',
        '--max-failed',
        value,
      ]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(said);
    }
    expect(await getRun(env.ctx.meta, 'mf-bad')).toBeUndefined();
  });

  it('pauses past the limit, says why and what to do; tune + resume go on; the report has the HTTP status', async () => {
    const plan = await tally([
      'plan',
      'tally',
      '--bucket',
      'refused',
      '--count',
      '12',
      '--run',
      'mf-1',
      '--max-failed',
      '3',
    ]);
    expect(plan.code, plan.stderr).toBe(0);
    const w1 = await worker('mf-1');
    expect(w1.code, w1.stderr).toBe(0);

    const run = await getRun(env.ctx.meta, 'mf-1');
    expect(run?.state).toBe('paused');
    expect(run?.pauseReason).toMatchObject({ cause: 'max-failed', allowed: 3, maxFailed: { count: 3 } });
    expect(run?.runHistory?.map((h) => h.event)).toEqual(['planComplete', 'failLimit']);
    const failed = await countByStatus(env.ctx.items, 'mf-1', 'failed');
    // past the limit, and stopped well before every item failed (one item in flight at a time)
    expect(failed).toBeGreaterThan(3);
    expect(await countByStatus(env.ctx.items, 'mf-1', 'pending')).toBe(12 - failed);

    const status = await tally(['status', '--run', 'mf-1']);
    expect(status.stdout).toContain('state=paused');
    expect(status.stdout).toContain('max-failed 3 (planned)');
    expect(status.stdout).toMatch(/paused by itself: \d+ item\(s\) failed, more than --max-failed 3 allows \(3\)/);
    expect(status.stdout).toContain('`convoy requeue --run mf-1`');
    expect(status.stdout).toContain('`convoy tune --run mf-1 --max-failed N`');
    const monitor = await tally(['monitor', '--run', 'mf-1']);
    expect(monitor.stdout).toContain('paused by itself');
    const api = createApiApp(env.ctx);
    const snap = (await (await api.request('/runs/mf-1')).json()) as { pauseAdvice: string; settings: unknown };
    expect(snap.pauseAdvice).toContain('more than --max-failed 3');
    expect(snap.settings).toMatchObject({ maxFailed: { value: '3', source: 'planned' } });

    // raise the limit and resume: the rest fail too, and with 12 failed > 50% of 12 it pauses again
    const tune = await tally(['tune', '--run', 'mf-1', '--max-failed', '50%']);
    expect(tune.code, tune.stderr).toBe(0);
    expect(tune.stdout).toContain('maxFailed 3 -> 50%');
    expect((await tally(['resume', '--run', 'mf-1'])).code).toBe(0);
    expect((await getRun(env.ctx.meta, 'mf-1'))?.pauseReason).toBeUndefined();
    const w2 = await worker('mf-1');
    expect(w2.code, w2.stderr).toBe(0);
    const again = await getRun(env.ctx.meta, 'mf-1');
    expect(again?.state).toBe('paused');
    expect(again?.pauseReason).toMatchObject({ allowed: 6, maxFailed: { percent: 50 } });

    // off: the run goes on to its end
    expect((await tally(['tune', '--run', 'mf-1', '--max-failed', 'off'])).code).toBe(0);
    expect((await tally(['resume', '--run', 'mf-1'])).code).toBe(0);
    const w3 = await worker('mf-1');
    expect(w3.code, w3.stderr).toBe(0);
    await waitUntil(async () => (await getRun(env.ctx.meta, 'mf-1'))?.state === 'done', { what: 'run done' });
    expect(await countByStatus(env.ctx.items, 'mf-1', 'failed')).toBe(12);
    const events = (await getRun(env.ctx.meta, 'mf-1'))?.runHistory?.map((h) => h.event);
    expect(events).toEqual(['planComplete', 'failLimit', 'tuned', 'resume', 'failLimit', 'tuned', 'resume', 'finish']);

    // every failure in the report, with the HTTP status the 403 left on the item row
    const report = await tally(['report', '--run', 'mf-1', '--failed-only', '--format', 'ndjson']);
    expect(report.code, report.stderr).toBe(0);
    const rows = report.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(rows).toHaveLength(12);
    for (const r of rows)
      expect(r).toMatchObject({ status: 'failed', errorClass: 'ACCESS_DENIED', httpStatus: 403, attempts: 1 });
  }, 180_000);
});
