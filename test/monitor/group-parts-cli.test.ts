/**
 * The monitor's group filters come from the run's kind: the real CLI with the test-only `synth`
 * kind, whose groups (`cust<k>/space<k>`) have parts of its own, tenant and shard. `--tenant`,
 * `--shard` and `--group` filter its groups, `--failed` and `--stuck`; the uploads kind's
 * `--customer` (still an option: uploads declares it) is bad input on a synth run, and so is
 * `--space` on a kind whose groups have one part.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRun } from '../../state/runs.js';
import { exited, runCli, writeCliConfig } from '../helpers/cli.js';
import { freshEnv, startTestStack, type TestEnv, type TestStack } from '../helpers/stack.js';
import { waitFinished } from '../fleet-accounting/helpers.js';
import { expectedOutcome, synthGroup, synthItemId, synthPlugin } from './fixtures/synth-kind.js';

const CLI = path.resolve('dist/test/monitor/fixtures/convoy-test-cli.js');
const RUN = 'parts';
// 12 items in groups cust<i%2>/space<i%3>; every 4th fails (items 3, 7, 11)
const spec = { items: 12, customers: 2, spaces: 3, failEvery: 4, delayMs: 5, bytesPerItem: 1000 };

let t: TestStack;
let env: TestEnv;
let config: string;
let worker: ChildProcess | undefined;
const convoy = (...args: string[]) => runCli(args, { config, cli: CLI });

beforeAll(async () => {
  t = await startTestStack();
  env = await freshEnv(t.stack, { kinds: [synthPlugin] });
  config = writeCliConfig(env);
  const plan = await convoy('plan', 'synth', '--run', RUN, '--spec', JSON.stringify(spec));
  expect(plan.code, plan.stderr).toBe(0);
  worker = spawn(
    process.execPath,
    [CLI, '--config', config, 'worker', '--concurrency', '4', '--wait-seconds', '1', '--threads', '1'],
    { env: { ...process.env, CONVOY_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  worker.stdout!.on('data', (d) => (output += d));
  worker.stderr!.on('data', (d) => (output += d));
  await waitFinished(env, RUN, 60_000).catch((err: Error) => {
    throw new Error(`${err.message}; worker output:\n${output}`);
  });
  worker.kill('SIGTERM');
  await exited(worker);
}, 120_000);
afterAll(async () => {
  if (worker && worker.exitCode === null && worker.signalCode === null) worker.kill('SIGKILL');
  env?.close();
  await t?.close();
});

/** The group rows a group view prints: group -> planned, done, failed. */
function rows(stdout: string): Record<string, { planned: number; done: number; failed: number }> {
  const out: Record<string, { planned: number; done: number; failed: number }> = {};
  for (const m of stdout.matchAll(/^ {2}(\S+)\s+planned\s+(\d+)\s+pending\s+\d+\s+done\s+(\d+)\s+failed\s+(\d+)/gm))
    out[m[1]!] = { planned: Number(m[2]), done: Number(m[3]), failed: Number(m[4]) };
  return out;
}

/** What the rows of groups matching `pick` should say, from the synth kind's own formula. */
function expected(pick: (group: string) => boolean) {
  const out: Record<string, { planned: number; done: number; failed: number }> = {};
  let total = { planned: 0, done: 0, failed: 0 };
  for (let i = 0; i < spec.items; i++) {
    const g = synthGroup(i, spec);
    if (!pick(g)) continue;
    out[g] ??= { planned: 0, done: 0, failed: 0 };
    const r = out[g];
    const done = expectedOutcome(i, spec.failEvery) === 'done' ? 1 : 0;
    r.planned++;
    r.done += done;
    r.failed += 1 - done;
    total = { planned: total.planned + 1, done: total.done + done, failed: total.failed + 1 - done };
  }
  return { ...out, '(total)': total };
}

describe("convoy monitor: group filters named by the run's kind", () => {
  it("--tenant, --shard and --group show the matching groups, labelled with the kind's part names", async () => {
    const tenant = await convoy('monitor', '--run', RUN, '--tenant', 'cust0');
    expect(tenant.code, tenant.stderr).toBe(0);
    expect(tenant.stdout).toMatch(/^groups \(tenant\/shard\) of tenant cust0: 3$/m);
    expect(rows(tenant.stdout)).toEqual(expected((g) => g.startsWith('cust0/')));

    const both = await convoy('monitor', '--run', RUN, '--tenant', 'cust1', '--shard', 'space2');
    expect(both.code, both.stderr).toBe(0);
    expect(both.stdout).toMatch(/^groups \(tenant\/shard\) of tenant cust1, shard space2: 1$/m);
    expect(rows(both.stdout)).toEqual(expected((g) => g === 'cust1/space2'));

    const shard = await convoy('monitor', '--run', RUN, '--shard', 'space1', '--json');
    expect(shard.code, shard.stderr).toBe(0);
    const view = JSON.parse(shard.stdout);
    expect(view.parts).toEqual(['tenant', 'shard']);
    expect(view.groups.map((g: { group: string; labels: unknown }) => [g.group, g.labels])).toEqual([
      ['cust0/space1', { tenant: 'cust0', shard: 'space1' }],
      ['cust1/space1', { tenant: 'cust1', shard: 'space1' }],
    ]);

    // --group: a whole group, or everything under a '/'-prefix of one (not a string prefix)
    const whole = await convoy('monitor', '--run', RUN, '--group', 'cust0/space2');
    expect(whole.code, whole.stderr).toBe(0);
    expect(rows(whole.stdout)).toEqual(expected((g) => g === 'cust0/space2'));
    const under = await convoy('monitor', '--run', RUN, '--group', 'cust1');
    expect(rows(under.stdout)).toEqual(expected((g) => g.startsWith('cust1/')));
    const partial = await convoy('monitor', '--run', RUN, '--group', 'cust1/space');
    expect(partial.code, partial.stderr).toBe(0);
    expect(partial.stdout.trim()).toBe('no items seen yet for group cust1/space');
  }, 60_000);

  it('the part options filter --failed and --stuck too', async () => {
    // failed: items 3 (cust1/space0), 7 (cust1/space1), 11 (cust1/space2)
    const failed = await convoy('monitor', '--run', RUN, '--failed', '--shard', 'space1', '--json');
    expect(failed.code, failed.stderr).toBe(0);
    expect(JSON.parse(failed.stdout).items.map((i: { itemId: string }) => i.itemId)).toEqual([synthItemId(7)]);
    const none = await convoy('monitor', '--run', RUN, '--failed', '--tenant', 'cust0', '--json');
    expect(JSON.parse(none.stdout).items).toEqual([]);
    const text = await convoy('monitor', '--run', RUN, '--failed', '--group', 'cust1');
    expect(text.stdout.match(/synth:\d+/g)?.sort()).toEqual([synthItemId(3), synthItemId(7), synthItemId(11)]);
    const stuck = await convoy('monitor', '--run', RUN, '--stuck', '--tenant', 'cust0');
    expect(stuck.code, stuck.stderr).toBe(0);
    expect(stuck.stdout).toContain('no stuck items');
  }, 60_000);

  it("another kind's part option is bad input: exit 2 naming the option and the run's parts", async () => {
    const customer = await convoy('monitor', '--run', RUN, '--customer', 'cust0');
    expect(customer.code).toBe(2);
    expect(customer.stdout).toBe('');
    expect(customer.stderr.trim()).toBe(
      `convoy: --customer does not apply to run "${RUN}" (kind synth): its groups are tenant/shard; filter with --tenant, --shard or --group`,
    );
    const failed = await convoy('monitor', '--run', RUN, '--failed', '--space', 's', '--tenant', 'cust0');
    expect(failed.code).toBe(2);
    expect(failed.stderr).toContain('--space does not apply to run');
    expect(failed.stderr).not.toMatch(/\n\s+at /);

    // a kind whose groups have one part (s3-sync): --space is refused, --group applies
    await createRun(env.ctx.meta, { runId: 'one-part', kind: 's3-sync', spec: {} });
    const space = await convoy('monitor', '--run', 'one-part', '--space', 'x');
    expect(space.code).toBe(2);
    expect(space.stderr.trim()).toBe(
      'convoy: --space does not apply to run "one-part" (kind s3-sync): its groups have one part; filter with --group',
    );
    const group = await convoy('monitor', '--run', 'one-part', '--group', 'minio:a->aws:b');
    expect(group.code, group.stderr).toBe(0);
    expect(group.stdout.trim()).toBe('no items seen yet for group minio:a->aws:b');
  }, 60_000);

  it('--help lists --group and every part option, with the kinds that declare it', async () => {
    const help = await convoy('monitor', '--help');
    expect(help.code).toBe(0);
    const flat = help.stdout.replace(/\s+/g, ' ');
    expect(flat).toContain('--group <group>');
    expect(flat).toContain('--customer <customer> uploads: progress of the groups whose customer is this');
    expect(flat).toContain('--space <space> uploads: progress of the groups whose space is this');
    expect(flat).toContain('--tenant <tenant> synth: progress of the groups whose tenant is this');
    expect(flat).toContain('--shard <shard> synth: progress of the groups whose shard is this');
  }, 60_000);
});
