/**
 * `convoy worker --processes auto` (the default) grows a host one process at a time: it starts
 * one process with the host's whole counts and starts the next only when every running one is
 * CPU-bound (worker/processes.ts GrowthPolicy). The real CLI in child processes, against the
 * local stack, on fleet-probe runs:
 *  - a CPU-bound kind (a busy loop per item): a second process starts, the first gets half the
 *    host's counts over IPC, both do items, every item done exactly once; SIGTERM drains both
 *  - a latency-bound kind (items that wait): the host stays at one process for the whole run,
 *    the other slot on standby (in /healthz), and exits 0 with --exit-when-idle
 *  - --grow-at-cpu outside (0, 1], or with a fixed --processes: exit 2 naming it
 *
 * The threshold is given low (0.15 of a core, against the default 0.9) so that a CPU-bound process
 * crosses it on a machine whose other suites take most of the cores, and the latency-bound one
 * (2 items/s, ~0.02 of a core) stays well under it: what is tested is the workload deciding.
 */
import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { listWorkers } from '../../state/workers.js';
import { completedBy, itemRows } from '../fleet-accounting/helpers.js';
import { waitForRun } from '../fleet/probe-run.js';
import { exited, runCli } from '../helpers/cli.js';
import { waitUntil } from '../helpers/stack.js';
import { hostTests, logLines, processesOf } from './helpers.js';

const { host, newRun } = hostTests();
const GROW_AT = ['--grow-at-cpu', '0.15'];
const twoCores = availableParallelism() >= 2;

describe.runIf(twoCores)('convoy worker --processes auto', () => {
  it('a CPU-bound kind: the second process starts, the first gets half the counts, every item done once', async () => {
    const run = await newRun('spin', 500, 0, 20);
    const h = host(run, 'hostg', 'auto', GROW_AT);
    // one process first, with the host's whole counts (8 items and 64 transfers per core)
    const [first] = await processesOf(run, h, 1);
    expect(first).toMatchObject({ workerId: 'hostg-p1', slot: 1, processes: 1 });
    const started = logLines(h).find((l) => l.msg === 'worker started' && l.workerId === 'hostg-p1');
    expect(started?.concurrency).toBe(8 * availableParallelism());

    const grew = await waitUntil(() => logLines(h).find((l) => /CPU-bound; starting \d+ more/.test(String(l.msg))), {
      timeoutMs: 60_000,
      intervalMs: 200,
      what: `the supervisor to start a second process; output:\n${h.output()}`,
    });
    expect(grew.slots).toEqual([2]);
    expect((grew.cpuCores as number[])[0]).toBeGreaterThanOrEqual(0.15);
    // the first process took its new share over IPC, and says so in its heartbeat
    const divided = await waitUntil(
      () => logLines(h).find((l) => l.msg === 'host counts divided again' && l.workerId === 'hostg-p1'),
      { timeoutMs: 30_000, intervalMs: 100, what: `the first process's new share; output:\n${h.output()}` },
    );
    expect(divided).toMatchObject({ processes: 2, concurrency: 8, transfers: 64 });
    await processesOf(run, h, 2);
    // p1's next heartbeat (every 5 s) carries the new count: what `convoy monitor` groups by
    await waitUntil(
      async () => {
        const beats = (await listWorkers(run.env.ctx.meta)).filter((w) => w.supervisorPid === h.pid);
        const seen = beats.map((w) => `${w.workerId}:${w.processes}`).sort();
        return seen.join(' ') === 'hostg-p1:2 hostg-p2:2';
      },
      { timeoutMs: 30_000, intervalMs: 200, what: 'both heartbeats saying 2 processes' },
    );

    await waitForRun(run.env.ctx, run.runId, { timeoutMs: 240_000 });
    await run.expectAllDoneOnce();
    const by = new Set((await itemRows(run.env, run.runId)).map(completedBy));
    expect([...by].sort()).toEqual(['hostg-p1', 'hostg-p2']);
    h.kill('SIGTERM');
    expect(await exited(h), h.output()).toBe(0);
    expect(logLines(h).filter((l) => l.msg === 'worker process stopped' && l.code === 0)).toHaveLength(2);
  }, 300_000);

  it('a latency-bound kind: one process for the whole run, the other slot on standby; exit 0 when idle', async () => {
    // 24 items at 4 in flight, each waiting 2 s: ~12 s, four sample windows
    const run = await newRun('wait', 24, 2_000);
    const h = host(run, 'hostw', 'auto', [
      ...GROW_AT,
      '--concurrency',
      '4',
      '--exit-when-idle',
      '3000',
      '--metrics-port',
      '0',
    ]);
    const url = await waitUntil(
      () => logLines(h).find((l) => l.msg === 'host supervisor started' && l.metrics)?.metrics as string | undefined,
      { timeoutMs: 30_000, intervalMs: 100, what: `the host's metrics URL; output:\n${h.output()}` },
    );
    await processesOf(run, h, 1);
    await waitUntil(async () => (await itemRows(run.env, run.runId)).some((r) => r.status === 'done'), {
      timeoutMs: 60_000,
      intervalMs: 200,
      what: 'the first item done',
    });
    const health = (await (await fetch(`${url}/healthz`)).json()) as {
      status: string;
      processes: Array<{ workerId: string; state: string; pid: number | null }>;
    };
    expect(health.status).toBe('running');
    expect(health.processes.map((p) => [p.workerId, p.state])).toEqual([
      ['hostw-p1', 'running'],
      ['hostw-p2', 'standby'],
    ]);
    expect(await exited(h), h.output()).toBe(0);
    await run.expectAllDoneOnce();
    const lines = logLines(h);
    expect(lines.some((l) => /CPU-bound; starting/.test(String(l.msg)))).toBe(false);
    expect(lines.filter((l) => l.msg === 'worker process started').map((l) => l.workerId)).toEqual(['hostw-p1']);
    const beats = (await listWorkers(run.env.ctx.meta)).filter((w) => w.supervisorPid === h.pid);
    expect(beats.map((w) => [w.workerId, w.processes])).toEqual([['hostw-p1', 1]]);
  }, 150_000);

  it('--grow-at-cpu outside (0, 1] or beside a fixed --processes: exit 2 naming it, no stack trace', async () => {
    const run = await newRun('badgrow', 1, 0);
    for (const [args, says] of [
      [['--grow-at-cpu', '1.5'], '--grow-at-cpu is a share of one core, more than 0 and at most 1'],
      [['--grow-at-cpu', '0'], 'got "0"'],
      [['--processes', '2', '--grow-at-cpu', '0.5'], '--grow-at-cpu applies to --processes auto'],
    ] as const) {
      const r = await runCli(['worker', ...args], { config: run.config });
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain(says);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  }, 60_000);
});
