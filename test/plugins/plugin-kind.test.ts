/**
 * A job kind added from outside the engine: `tally` (./tally/) lives only in test/ and reaches
 * convoy through one line, the plugin list of ./convoy-tally-cli.ts. Driven as an operator
 * would, through that CLI in child processes: plan, worker (with the kind's own worker option and
 * start hook), status, monitor, verify, and the kind's own command. The stock CLI, whose list
 * does not name it, knows nothing of it: nothing registers by import side effect.
 */
import path from 'node:path';
import { DeleteObjectCommand, GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeS3Client } from '../../shared/s3-clients.js';
import { listWorkers } from '../../state/workers.js';
import { runCli, CLI as STOCK_CLI, writeCliConfig } from '../helpers/cli.js';
import { freshEnv, startTestStack, type TestEnv, type TestStack } from '../helpers/stack.js';
import { tallyKey } from './tally/spec.js';

const TALLY_CLI = path.resolve('dist/test/plugins/convoy-tally-cli.js');

const convoy = (cli: string, args: string[], config?: string) => runCli(args, { cli, config });
const tally = (args: string[], config?: string) => convoy(TALLY_CLI, args, config);

let t: TestStack;
let env: TestEnv;
let config: string;
let s3: S3Client;
beforeAll(async () => {
  t = await startTestStack();
  env = await freshEnv(t.stack);
  config = writeCliConfig(env);
  s3 = makeS3Client({ ...t.stack.remotes.local!, name: 'local' });
}, 60_000);
afterAll(async () => {
  s3?.destroy();
  env?.close();
  await t?.close();
});

describe('a kind added by one line in a plugin list', () => {
  it('the CLI that lists it shows its plan command, its command and its worker option; the stock CLI knows none', async () => {
    expect((await tally(['--help'])).stdout).toMatch(/^\s+tally\b/m);
    expect((await tally(['plan', '--help'])).stdout).toMatch(/^\s+tally \[options\]/m);
    expect((await tally(['worker', '--help'])).stdout).toContain('--tally-stamp <text>');
    const stockPlan = await convoy(STOCK_CLI, ['plan', 'tally', '--bucket', 'b', '--count', '1'], config);
    expect(stockPlan.code).toBe(2);
    expect((await convoy(STOCK_CLI, ['worker', '--help'])).stdout).not.toContain('--tally-stamp');
    expect((await convoy(STOCK_CLI, ['tally', 'show', '--run', 'x'], config)).code).toBe(2);
  });

  it('plan, worker, status, monitor, verify and its own command, through the registry alone', async () => {
    const plan = await tally(['plan', 'tally', '--bucket', 'tally-b', '--count', '12', '--run', 't1'], config);
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toContain('t1: planned 12 item(s)');

    // the kind's start hook checks its option before the worker takes anything
    const empty = await tally(['worker', '--tally-stamp', ' ', '--exit-when-idle', '500'], config);
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain('--tally-stamp is empty');
    expect(await listWorkers(env.ctx.meta)).toEqual([]);

    const worker = await tally(
      ['worker', '--tally-stamp', 'blue', '--wait-seconds', '1', '--exit-when-idle', '1500', '--run', 't1'],
      config,
    );
    expect(worker.code, worker.stderr).toBe(0);

    const status = await tally(['status', '--run', 't1'], config);
    expect(status.stdout).toMatch(/state=done/);
    expect(status.stdout).toMatch(/done\s+12\s+100\.0%/);

    const monitor = await tally(['monitor', '--run', 't1'], config);
    expect(monitor.code, monitor.stderr).toBe(0);
    expect(monitor.stdout).toContain('run t1  kind=tally  state=done');
    expect(monitor.stdout).toContain('progress: 12/12 done (100.0%), 0 failed');
    expect(monitor.stdout).toContain('moved: 74 B in 12 objects');

    // the monitor filters and labels the run's groups by the parts the kind names (team/batch)
    const team = await tally(['monitor', '--run', 't1', '--team', 'team-1'], config);
    expect(team.code, team.stderr).toBe(0);
    expect(team.stdout).toContain('groups (team/batch) of team team-1: 2');
    expect(team.stdout).toMatch(/team-1\/batch-0/);
    expect(team.stdout).toMatch(/team-1\/batch-1/);
    expect(team.stdout).not.toMatch(/team-0\//);
    const customer = await tally(['monitor', '--run', 't1', '--customer', 'c'], config);
    expect(customer.code).toBe(2);
    expect(customer.stderr).toContain('its groups are team/batch');

    // the option reached every process of the host (the default: one per core)
    const body = await s3.send(new GetObjectCommand({ Bucket: 'tally-b', Key: tallyKey(3) }));
    expect(await body.Body!.transformToString()).toBe('3 blue');

    const verify = await tally(['verify', '--run', 't1'], config);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    expect(verify.stdout).toContain('verify t1: ok 12 missing 0 not done 0');

    expect((await tally(['tally', 'show', '--run', 't1'], config)).stdout).toContain('run t1: 12 object(s) in tally-b');

    // the verifier is the kind's: a lost object is found and named
    await s3.send(new DeleteObjectCommand({ Bucket: 'tally-b', Key: tallyKey(7) }));
    const broken = await tally(['verify', '--run', 't1'], config);
    expect(broken.code).toBe(1);
    expect(broken.stdout).toContain(`"key":"${tallyKey(7)}"`);
    expect(broken.stdout).toContain('ok 11 missing 1');
  });
});
