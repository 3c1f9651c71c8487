/**
 * The host of `convoy plan ... --work` (worker/work-run.ts): a Supervisor whose slot 1 is the
 * process itself (`local`). On a 4-core host, as CI's 2 cores cannot show: this process's CPU
 * counts with the children's, the host doubles (1 -> 2 -> 4 processes) only when every process
 * has a figure at or over the policy's, the counts are divided over this process and the children
 * alike, and the host runs until it is stopped (no child started is not "every child exited").
 * The children are work-host-child.ts: the host link with no queue behind it.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { Shares } from '../../worker/host-link.js';
import { growthPolicy, planChildren } from '../../worker/processes.js';
import { Supervisor } from '../../worker/supervisor.js';
import { waitUntil } from '../helpers/stack.js';

const CHILD = path.resolve('dist/test/processes/work-host-child.js');
const CORES = 4;

describe('a --work host: this process is slot 1 of the supervisor', () => {
  let dir: string;
  let host: Supervisor | undefined;
  afterEach(async () => {
    await host?.stop('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  });

  const slotLog = (slot: number) => {
    try {
      return readFileSync(path.join(dir, `slot-${slot}.jsonl`), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { started?: { slot: number; concurrency: number }; resized?: Shares });
    } catch {
      return [];
    }
  };

  function startHost(localCores: () => number) {
    dir = mkdtempSync(path.join(tmpdir(), 'work-host-'));
    // a short window; any CPU at all counts as busy unless the local figure says otherwise
    const policy = { ...growthPolicy({ processes: CORES }, 0.001), sampleMs: 150 };
    const resizes: Shares[] = [];
    const local = { reads: 0 };
    let micros = 0;
    let lastMs = Date.now();
    host = new Supervisor({
      workerId: 'w1',
      children: planChildren({ processes: CORES, cores: CORES, workerId: 'w1' }).slice(1),
      grow: policy,
      local: {
        // `localCores()` of a core since the last reading
        cpuMicros: () => {
          local.reads++;
          const now = Date.now();
          micros += (now - lastMs) * 1000 * localCores();
          lastMs = now;
          return micros;
        },
        resize: (shares) => resizes.push(shares),
      },
      entry: CHILD,
      args: [],
      execArgv: [],
      env: { ...process.env, WORK_HOST_DIR: dir },
      shutdownDeadlineMs: 2_000,
      shutdownForceMs: 500,
      log: pino({ level: 'silent' }),
    });
    const run = host.run();
    let ended = false;
    void run.then(() => (ended = true));
    return { run, resizes, policy, local, ended: () => ended };
  }

  it('grows 1 -> 2 -> 4 while every process is busy, dividing the counts over all of them; runs until stopped', async () => {
    const { run, resizes, policy, ended } = startHost(() => 1);
    // slots 3 and 4 started, and slot 2 has taken its new share
    await waitUntil(() => slotLog(3).length > 0 && slotLog(4).length > 0 && slotLog(2).length > 1, {
      timeoutMs: 20_000,
      what: 'slots 3 and 4 started, slot 2 resized',
    });
    // this process took its share each time: of 2, then of 4 processes (8 items, 64 transfers per core)
    expect(resizes).toEqual([
      { processes: 2, concurrency: 16, transfers: 128 },
      { processes: 4, concurrency: 8, transfers: 64 },
    ]);
    expect(policy.concurrency).toBe(32);
    // slot 2 started with the share of 2, and was given the share of 4 when slots 3 and 4 started
    expect(slotLog(2)).toEqual([
      { started: expect.objectContaining({ slot: 2, processes: 2, concurrency: 16, transfers: 128 }) },
      { resized: { processes: 4, concurrency: 8, transfers: 64 } },
    ]);
    expect(slotLog(3)[0]!.started).toMatchObject({ slot: 3, processes: 4, concurrency: 8 });
    await waitUntil(() => host!.health().processes.every((p) => p.state === 'running'), {
      timeoutMs: 10_000,
      what: 'slots 2-4 running',
    });
    // the host is not over while this process works, even when every child has exited 0 (as
    // `--exit-when-idle` children do): only stop() ends it
    for (const p of host!.health().processes) process.kill(p.pid!, 'SIGTERM');
    await waitUntil(() => host!.health().processes.every((p) => p.state === 'exited'), {
      timeoutMs: 10_000,
      what: 'every child exited',
    });
    expect(ended()).toBe(false);
    expect(await host!.stop('SIGTERM')).toBe(0);
    expect(await run).toBe(0);
  });

  it('starts no process while this one is not busy; stopped, it ends at once with nothing to drain', async () => {
    const { run, resizes, local } = startHost(() => 0);
    // ten windows with this process idle (each reads its CPU once)
    await waitUntil(() => local.reads >= 10, { timeoutMs: 10_000, what: 'ten sample windows' });
    expect(resizes).toEqual([]);
    expect(slotLog(2)).toEqual([]);
    expect(host!.health().processes.map((p) => p.state)).toEqual(['standby', 'standby', 'standby']);
    expect(await host!.stop('SIGTERM')).toBe(0);
    expect(await run).toBe(0);
  });
});
