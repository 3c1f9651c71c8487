/**
 * A host that uses all its cores: `convoy worker --processes N` (the real CLI, in child
 * processes, against the local stack) on fleet-probe runs, whose peer table counts registrations
 * so that an item done twice shows, and whose item rows record every claim and completion.
 *  - a run finishes with 2 processes; both did items; `convoy monitor` shows the host with its 2
 *    processes; the host's one /metrics and /healthz cover both; each process runs with Node 20's
 *    young generation, fixed (--min-semi-space-size=16 --max-semi-space-size=16 on its command line)
 *  - kill -9 of one process mid-run: the supervisor restarts it in its slot (same worker id, new
 *    pid); every item done exactly once, none lost
 *  - SIGTERM to the supervisor mid-run: every process drains (items finished or released, none
 *    failed), exit 0, no process left
 *  - kill -9 of the supervisor: its processes notice and exit on their own, within a bound
 *  - bad --processes: exit 2 naming the option; --processes 1 is one process, no supervisor
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runStatus } from '../../coordinator/status.js';
import { countByStatus } from '../../state/status-index.js';
import { listWorkers } from '../../state/workers.js';
import { itemRows, completedBy } from '../fleet-accounting/helpers.js';
import { waitForRun } from '../fleet/probe-run.js';
import { exited, runCli } from '../helpers/cli.js';
import { waitUntil } from '../helpers/stack.js';
import { alive, hostTests, logLines, processesOf, thisHost } from './helpers.js';

const { host, newRun } = hostTests();

describe('convoy worker --processes 2', () => {
  it('finishes a run with both processes; the monitor shows the host and its 2 processes; one /metrics and /healthz for the host', async () => {
    const run = await newRun('two', 40, 40);
    // every process of the host reports at exit which modules it loaded (module-probe.mjs)
    const probeDir = mkdtempSync(path.join(tmpdir(), 'convoy-modules-'));
    const probe = new URL('./module-probe.mjs', import.meta.url).href;
    const h = host(run, 'hosta', 2, ['--concurrency', '4', '--metrics-port', '0'], {
      NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import "${probe}"`,
      CONVOY_TEST_MODULE_PROBE_DIR: probeDir,
    });
    const procs = await processesOf(run, h, 2);
    expect(procs.map((p) => [p.workerId, p.slot, p.processes, p.host])).toEqual([
      ['hosta-p1', 1, 2, thisHost],
      ['hosta-p2', 2, 2, thisHost],
    ]);
    for (const p of procs) {
      expect(p.pid).not.toBe(h.pid);
      expect(alive(p.pid)).toBe(true);
    }
    const started = await waitUntil(() => logLines(h).find((l) => l.msg === 'host supervisor started'), {
      what: `the supervisor's start line; output:\n${h.output()}`,
    });
    // --concurrency 4 is the host's: 2 per process; threads not given: the cores, shared
    const threads = Math.max(1, Math.floor(availableParallelism() / 2));
    expect(started.shares).toEqual([
      { concurrency: 2, threads },
      { concurrency: 2, threads },
    ]);
    const url = started.metrics as string;

    await waitForRun(run.env.ctx, run.runId, { timeoutMs: 90_000, intervalMs: 300 });
    await run.expectAllDoneOnce();
    const by = new Set((await itemRows(run.env, run.runId)).map(completedBy));
    expect([...by].sort()).toEqual(['hosta-p1', 'hosta-p2']);

    // the monitor (without --run: the fleet view) groups the two processes under their host
    const text = await runCli(['monitor'], { config: run.config });
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain(`host ${thisHost} (supervisor pid ${h.pid}): 2/2 process(es) alive`);
    expect(text.stdout).toMatch(new RegExp(`^\\s+1 hosta-p1\\s+${thisHost}\\s+${procs[0]!.pid}\\s+alive`, 'm'));
    expect(text.stdout).toMatch(new RegExp(`^\\s+2 hosta-p2\\s+${thisHost}\\s+${procs[1]!.pid}\\s+alive`, 'm'));
    const json = JSON.parse((await runCli(['monitor', '--json'], { config: run.config })).stdout);
    expect(json.hosts).toHaveLength(1);
    expect(json.hosts[0]).toMatchObject({ host: thisHost, supervisorPid: h.pid, expected: 2, alive: 2 });
    expect(json.hosts[0].processes.map((p: { workerId: string }) => p.workerId)).toEqual(['hosta-p1', 'hosta-p2']);

    const health = await fetch(`${url}/healthz`);
    expect(health.status).toBe(200);
    const body = (await health.json()) as { status: string; processes: Array<{ workerId: string; pid: number }> };
    expect(body.status).toBe('running');
    expect(body.processes.map((p) => [p.workerId, p.pid])).toEqual(procs.map((p) => [p.workerId, p.pid]));
    // each process runs with Node 20's largest young generation, fixed, whatever the Node (what
    // `ps` shows)
    for (const p of procs)
      expect(readFileSync(`/proc/${p.pid}/cmdline`, 'utf8').split('\0'), p.workerId).toEqual(
        expect.arrayContaining(['--min-semi-space-size=16', '--max-semi-space-size=16']),
      );
    const metrics = await (await fetch(`${url}/metrics`)).text();
    const completed = [
      ...metrics.matchAll(/^convoy_worker_items_completed_total\{run="two",worker="(hosta-p\d)"\} (\d+)$/gm),
    ];
    expect(completed.map((m) => m[1]).sort()).toEqual(['hosta-p1', 'hosta-p2']);
    expect(completed.reduce((a, m) => a + Number(m[2]), 0)).toBe(run.count);
    expect(metrics).toMatch(/^convoy_worker_host_processes\{state="running",worker="hosta"\} 2$/m);
    expect(metrics).toMatch(/^convoy_worker_host_restarts_total\{worker="hosta"\} 0$/m);

    h.kill('SIGTERM');
    expect(await exited(h), h.output()).toBe(0);
    // the supervisor only starts and watches its processes: it never loads the AWS SDK (a
    // second of CPU at every host start), which each process working items does
    const loaded = readdirSync(probeDir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => JSON.parse(readFileSync(path.join(probeDir, f), 'utf8')));
    expect(loaded.filter((p) => !p.child).map((p) => p.sdk)).toEqual([0]);
    expect(loaded.filter((p) => p.child && p.sdk > 0)).toHaveLength(2);
    // nor does any process load piscina until a kind runs a thread task (this run's kind has none)
    expect(loaded.map((p) => p.piscina)).toEqual([0, 0, 0]);
    rmSync(probeDir, { recursive: true, force: true });
  }, 150_000);

  it('kill -9 of one process mid-run: restarted in its slot (new pid, same worker id); every item done exactly once', async () => {
    // items of 1 s: the kill lands while the process holds some (with 150 ms ones, a loaded machine
    // could let it finish them between the check below and the kill, and none would come back)
    const run = await newRun('crash', 40, 1000);
    const h = host(run, 'hostb', 2, ['--concurrency', '4', '--lease-ms', '4000']);
    const [p1] = await processesOf(run, h, 2);
    // kill it once it has finished items and holds one it claimed in the last 300 ms (in-flight
    // work is cut short: that item has >= 700 ms left, so the kill cannot come after it finished)
    await waitUntil(
      async () => {
        const rows = await itemRows(run.env, run.runId);
        const now = Date.now();
        return (
          rows.some((r) => r.status === 'done' && completedBy(r) === 'hostb-p1') &&
          rows.some((r) => r.status === 'leased' && r.leaseOwner === 'hostb-p1' && now - (r.startedAtMs ?? 0) < 300)
        );
      },
      { timeoutMs: 60_000, intervalMs: 100, what: 'process 1 with items done and items in flight' },
    );
    process.kill(p1!.pid, 'SIGKILL');
    const restarted = await waitUntil(
      async () => {
        const row = (await listWorkers(run.env.ctx.meta)).find((w) => w.workerId === 'hostb-p1');
        return row && row.pid !== p1!.pid && row.state === 'running' ? row : undefined;
      },
      { timeoutMs: 45_000, intervalMs: 200, what: `process 1 restarted; output:\n${h.output()}` },
    );
    expect(restarted).toMatchObject({ supervisorPid: h.pid, slot: 1, host: thisHost });
    expect(alive(p1!.pid)).toBe(false);
    expect(logLines(h).some((l) => l.msg === 'worker process exited; restarting it' && l.signal === 'SIGKILL')).toBe(
      true,
    );

    await waitForRun(run.env.ctx, run.runId, { timeoutMs: 120_000, intervalMs: 300 });
    await run.expectAllDoneOnce();
    // the killed process's items came back (a second claim) and were done once
    const rows = await itemRows(run.env, run.runId);
    expect(rows.some((r) => r.attempts > 1)).toBe(true);
    h.kill('SIGTERM');
    expect(await exited(h), h.output()).toBe(0);
  }, 200_000);

  it('SIGTERM to the supervisor mid-run: every process drains (nothing failed, nothing left leased), exit 0, no process left', async () => {
    const run = await newRun('drain', 60, 400);
    const h = host(run, 'hostc', 2, ['--concurrency', '6', '--shutdown-deadline-ms', '10000']);
    const procs = await processesOf(run, h, 2);
    await waitUntil(
      async () => {
        const owners = new Set(
          (await itemRows(run.env, run.runId)).filter((r) => r.status === 'leased').map((r) => r.leaseOwner),
        );
        return owners.has('hostc-p1') && owners.has('hostc-p2');
      },
      { timeoutMs: 60_000, intervalMs: 100, what: 'both processes with items in flight' },
    );
    h.kill('SIGTERM');
    expect(await exited(h), h.output()).toBe(0);
    for (const p of procs) expect(alive(p.pid), `process ${p.workerId} (pid ${p.pid}) left running`).toBe(false);
    const s = await runStatus(run.env.ctx, run.runId);
    expect(s.counts.failed).toBe(0);
    expect(await countByStatus(run.env.ctx.items, run.runId, 'leased')).toBe(0);
    expect(s.counts.done).toBeGreaterThan(0);
    expect(s.counts.done + s.counts.pending + s.counts.retrying).toBe(run.count);
    const beats = (await listWorkers(run.env.ctx.meta)).filter((w) => w.supervisorPid === h.pid);
    expect(beats.map((w) => w.state)).toEqual(['stopped', 'stopped']);
    const lines = logLines(h);
    expect(lines.filter((l) => l.msg === 'worker process stopped' && l.code === 0)).toHaveLength(2);
    expect(lines.some((l) => /restarting/.test(String(l.msg)))).toBe(false);
  }, 150_000);

  it('kill -9 of the supervisor: its processes see it gone, drain and exit on their own', async () => {
    const run = await newRun('orphan', 60, 400);
    const h = host(run, 'hostd', 2, ['--concurrency', '4', '--shutdown-deadline-ms', '2000']);
    const procs = await processesOf(run, h, 2);
    await waitUntil(async () => (await countByStatus(run.env.ctx.items, run.runId, 'leased')) > 0, {
      timeoutMs: 60_000,
      intervalMs: 100,
      what: 'items in flight',
    });
    h.kill('SIGKILL');
    await exited(h);
    const killedAt = Date.now();
    // bound: their shutdown deadline (2 s) + force time (5 s) + start-up slack on a loaded machine
    await waitUntil(() => procs.every((p) => !alive(p.pid)), {
      timeoutMs: 20_000,
      intervalMs: 100,
      what: `the orphaned processes to exit; output:\n${h.output()}`,
    });
    expect(Date.now() - killedAt).toBeLessThan(20_000);
    const beats = (await listWorkers(run.env.ctx.meta)).filter((w) => w.supervisorPid === h.pid);
    expect(beats.map((w) => w.state)).toEqual(['stopped', 'stopped']);
    expect(await countByStatus(run.env.ctx.items, run.runId, 'leased')).toBe(0);
    expect((await runStatus(run.env.ctx, run.runId)).counts.failed).toBe(0);
    expect(logLines(h).filter((l) => l.msg === 'supervisor gone; shutting down')).toHaveLength(2);
  }, 150_000);
});

describe('convoy worker --processes: input', () => {
  it('0 or a word: exit 2 naming the option, nothing started; 1: this process alone, no supervisor', async () => {
    const run = await newRun('input', 1, 0);
    for (const bad of ['0', 'lots']) {
      const r = await runCli(['worker', '--processes', bad], { config: run.config });
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain(`--processes must be "auto" (one per core) or an integer from 1 to 256, got "${bad}"`);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
    expect(await listWorkers(run.env.ctx.meta)).toEqual([]);

    const h = host(run, 'alone', 1, ['--exit-when-idle', '500']);
    expect(await exited(h), h.output()).toBe(0);
    const beats = await listWorkers(run.env.ctx.meta);
    expect(beats).toHaveLength(1);
    expect(beats[0]).toMatchObject({ workerId: 'alone', pid: h.pid, state: 'stopped' });
    expect(beats[0]!.supervisorPid).toBeUndefined();
    await run.expectAllDoneOnce();
  }, 90_000);
});
