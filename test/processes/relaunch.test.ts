/**
 * `convoy worker --processes 1` and `convoy plan <kind> --work` move data in their own process,
 * which cannot size its own young generation: the CLI's entry starts them again with the flags
 * (coordinator/cli/relaunch.ts). The real CLI in a child process: the worker that beats is the
 * relaunched process, with both flags on its command line; signals reach it through the
 * relaunching one (SIGTERM drains, exit 0), a kill -9 of the relaunching one ends it, and an
 * operator's own young-generation flag means no relaunch. plan --work: test/s3-sync/plan-work.test.ts.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { movesDataInOwnProcess, relaunchNodeArgs } from '../../coordinator/cli/relaunch.js';
import { listWorkers } from '../../state/workers.js';
import { hasRaisedScavengerCapacity, SEMI_SPACE_MIB } from '../../shared/young-generation.js';
import { CLI, exited, spawnWorker, writeCliConfig } from '../helpers/cli.js';
import { type TestEnv, useFreshEnv, waitUntil } from '../helpers/stack.js';
import { alive } from './helpers.js';

const FLAGS = [
  `--min-semi-space-size=${SEMI_SPACE_MIB}`,
  `--max-semi-space-size=${SEMI_SPACE_MIB}`,
  ...(hasRaisedScavengerCapacity(process.versions.v8) ? ['--scavenger-max-new-space-capacity-mb=8'] : []),
];

describe('which command lines start again with the young-generation flags', () => {
  it('plan --work and worker --processes 1 do, after any global options; nothing else does', () => {
    for (const args of [
      ['plan', 's3-sync', '--from', 'a:b', '--to', 'c:d', '--work'],
      ['--state-dir', 'plan', '--log-level', 'info', 'plan', 'uploads', '--work'],
      ['worker', '--processes', '1'],
      ['--config', 'worker', 'worker', '--concurrency', '4', '--processes=1'],
    ])
      expect(relaunchNodeArgs(args, [], {}), args.join(' ')).toEqual(FLAGS);
    for (const args of [
      ['plan', 's3-sync', '--from', 'a:b', '--to', 'c:d'],
      ['worker'],
      ['worker', '--processes', 'auto'],
      ['worker', '--processes', '2'],
      ['--state-dir', 'worker', 'status'],
      ['status', '--work'],
      [],
    ])
      expect(movesDataInOwnProcess(args), args.join(' ')).toBe(false);
    // the operator's own sizing wins, on the command line or in NODE_OPTIONS: no relaunch
    expect(relaunchNodeArgs(['worker', '--processes', '1'], ['--max-semi-space-size=64'], {})).toBeUndefined();
    expect(relaunchNodeArgs(['plan', 'x', '--work'], [], { NODE_OPTIONS: '--max_semi_space_size=8' })).toBeUndefined();
  });
});

describe('convoy worker --processes 1, relaunched (real CLI)', () => {
  let env: TestEnv;
  let config: string;
  useFreshEnv((e) => {
    env = e;
    config = writeCliConfig(env);
  });

  /** The worker's heartbeat row once it beats `running`: the process doing the work. */
  const beating = (id: string) =>
    waitUntil(async () => (await listWorkers(env.ctx.meta)).find((w) => w.workerId === id && w.state === 'running'), {
      timeoutMs: 30_000,
      what: `worker ${id} running`,
    });
  const cmdline = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');

  it('the working process has both flags; SIGTERM to the started one drains it: exit 0, stopped', async () => {
    const w = spawnWorker(config, ['--processes', '1', '--worker-id', 'relaunched', '--wait-seconds', '1']);
    const row = await beating('relaunched');
    expect(row.pid).not.toBe(w.pid);
    expect(cmdline(row.pid)).toEqual(expect.arrayContaining([...FLAGS, CLI, 'worker']));
    expect(cmdline(w.pid!)).not.toContain(FLAGS[0]);
    w.kill('SIGTERM');
    expect(await exited(w), w.output()).toBe(0);
    expect(alive(row.pid)).toBe(false);
    const after = (await listWorkers(env.ctx.meta)).find((x) => x.workerId === 'relaunched');
    expect(after?.state).toBe('stopped');
  }, 60_000);

  it('kill -9 of the started process ends the relaunched one too', async () => {
    const w = spawnWorker(config, ['--processes', '1', '--worker-id', 'orphan', '--wait-seconds', '1']);
    const row = await beating('orphan');
    w.kill('SIGKILL');
    await exited(w);
    await waitUntil(() => !alive(row.pid), { timeoutMs: 10_000, what: `relaunched worker ${row.pid} gone` });
  }, 60_000);

  it("with the operator's own young-generation flag: no relaunch, the started process is the worker", async () => {
    const w = spawnWorker(config, ['--processes', '1', '--worker-id', 'sized', '--wait-seconds', '1'], {
      NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --max-semi-space-size=32`,
    });
    const row = await beating('sized');
    expect(row.pid).toBe(w.pid);
    w.kill('SIGTERM');
    expect(await exited(w), w.output()).toBe(0);
  }, 60_000);
});
