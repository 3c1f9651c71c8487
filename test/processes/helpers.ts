/**
 * Shared by the host tests (`convoy worker --processes N`): a fleet-probe run on a fresh env (its
 * peer table counts registrations, so an item done twice shows), a host started with the real
 * test CLI, and what the state tables say about its processes.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { listWorkers, type WorkerHeartbeat } from '../../state/workers.js';
import { PROBE_CLI } from '../fleet/fleet.js';
import { probePlugin } from '../fleet/probe-plugin.js';
import { planProbe, seedProbe, verifyProbe } from '../fleet/probe-run.js';
import { itemRows } from '../fleet-accounting/helpers.js';
import { exited, spawnWorker, writeCliConfig } from '../helpers/cli.js';
import { freshEnv, startTestStack, waitUntil, type TestEnv, type TestStack } from '../helpers/stack.js';

export interface ProbeRun {
  env: TestEnv;
  config: string;
  runId: string;
  count: number;
  /** every item done, registered at the peer exactly once, completed exactly once, none failed */
  expectAllDoneOnce(): Promise<void>;
}

/** A fresh env with a planned fleet-probe run of `count` items taking `thinkMs` each (and `spinMs` of CPU). */
export async function probeRun(
  t: TestStack,
  name: string,
  count: number,
  thinkMs: number,
  spinMs = 0,
): Promise<ProbeRun> {
  const env = await freshEnv(t.stack, { kinds: [probePlugin] });
  const config = writeCliConfig(env);
  const spec = await seedProbe(env.ctx, { count, name, thinkMs, spinMs, objectBytes: 256 });
  await planProbe(env.ctx, name, spec, { backoffBaseMs: 200 });
  return {
    env,
    config,
    runId: name,
    count,
    async expectAllDoneOnce() {
      const v = await verifyProbe(env.ctx, name, spec);
      expect(v.counts, v.lines.join('\n')).toMatchObject({ ok: count, registered_twice: 0, not_done: 0 });
      const rows = await itemRows(env, name);
      expect(rows).toHaveLength(count);
      for (const r of rows) {
        expect(r.status, r.itemId).toBe('done');
        const completions = (r.history ?? []).filter((h) => h.event === 'completed').length;
        expect(completions, `${r.itemId} completed ${completions} times`).toBe(1);
      }
    },
  };
}

export type Host = ReturnType<typeof spawnWorker>;

/** `convoy worker --processes <n> --worker-id <id> ...` with the probe CLI, logging JSON at info. */
export function startHost(
  run: ProbeRun,
  id: string,
  processes: number | 'auto',
  args: string[] = [],
  env: NodeJS.ProcessEnv = {},
): Host {
  return spawnWorker(
    run.config,
    ['--processes', String(processes), '--worker-id', id, '--wait-seconds', '1', ...args],
    { CONVOY_LOG_LEVEL: 'info', CONVOY_LOG_FORMAT: 'json', ...env },
    PROBE_CLI,
  );
}

/** The host's processes by their heartbeat rows, once `n` of them beat with `state` (slot order). */
export async function processesOf(
  run: ProbeRun,
  host: Host,
  n: number,
  state: WorkerHeartbeat['state'] = 'running',
  timeoutMs = 45_000,
): Promise<WorkerHeartbeat[]> {
  return waitUntil(
    async () => {
      const rows = (await listWorkers(run.env.ctx.meta))
        .filter((w) => w.supervisorPid === host.pid && w.state === state)
        .sort((a, b) => (a.slot ?? 0) - (b.slot ?? 0));
      return rows.length === n ? rows : undefined;
    },
    { timeoutMs, intervalMs: 200, what: `${n} processes of host ${host.pid} ${state}; output:\n${host.output()}` },
  );
}

/** Whether a process exists and is not a zombie (a reparented child might wait to be reaped). */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** The JSON log lines a host wrote (CONVOY_LOG_FORMAT=json). */
export function logLines(host: Host): Array<Record<string, unknown>> {
  return host
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as Record<string, unknown>];
      } catch {
        return []; // another process's line, cut where the output is read
      }
    });
}

export const thisHost = hostname();

/**
 * A host test file's setup: the local stack for the file, and hosts and runs made through the
 * returned functions killed and closed after each test.
 */
export function hostTests(): {
  host(run: ProbeRun, id: string, processes: number | 'auto', args?: string[], env?: NodeJS.ProcessEnv): Host;
  newRun(name: string, count: number, thinkMs: number, spinMs?: number): Promise<ProbeRun>;
} {
  let t: TestStack;
  const hosts: Host[] = [];
  const runs: ProbeRun[] = [];
  beforeAll(async () => {
    t = await startTestStack();
  });
  afterAll(async () => {
    await t?.close();
  });
  afterEach(async () => {
    for (const h of hosts.splice(0)) {
      if (h.exitCode === null && h.signalCode === null) h.kill('SIGKILL');
      await exited(h);
    }
    for (const r of runs.splice(0)) r.env.close();
  });
  return {
    host(run, id, processes, args = [], env = {}) {
      const h = startHost(run, id, processes, args, env);
      hosts.push(h);
      return h;
    },
    async newRun(name, count, thinkMs, spinMs = 0) {
      const r = await probeRun(t, name, count, thinkMs, spinMs);
      runs.push(r);
      return r;
    },
  };
}
