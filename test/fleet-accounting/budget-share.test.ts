/**
 * The arithmetic of a fleet-wide limit's share (pure; the fleet test beside this file runs real
 * workers): who counts as sharing the run's budget, and the empty bucket a worker starts with.
 */
import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { CapacityBudget } from '../../worker/budget/capacity-budget.js';
import { countSharers } from '../../worker/budget/run-budget.js';
import type { WorkerHeartbeat } from '../../state/workers.js';

const now = 1_000_000;
const beat = (workerId: string, over: Partial<WorkerHeartbeat> = {}): WorkerHeartbeat => ({
  workerId,
  host: 'other-host',
  pid: 1,
  startedAtMs: now - 5_000,
  lastBeatAtMs: now - 1_000,
  state: 'running',
  inFlight: 0,
  done: 0,
  failed: 0,
  ...over,
});

describe('fleet-wide budget share', () => {
  it('counts live workers on the run, live workers with no run yet, and this process', () => {
    const workers = [
      beat('on-run', { runs: ['r'] }),
      beat('just-started'), // no run loaded yet: about to take r's messages too
      beat('other-run', { runs: ['x'] }),
      beat('stale', { runs: ['r'], lastBeatAtMs: now - 60_000 }),
      beat('stopped', { runs: ['r'], state: 'stopped' }),
    ];
    // this process has not written its first heartbeat yet: counted anyway
    expect(countSharers(workers, 'r', now)).toBe(3);
    // ...and counted once when it has, whatever runs its heartbeat lists so far
    expect(countSharers([...workers, beat('me', { host: hostname(), pid: process.pid, runs: ['x'] })], 'r', now)).toBe(
      3,
    );
  });

  it('starts a run budget with an empty bucket: no burst when a fleet starts together', async () => {
    let t = 0;
    const slept: number[] = [];
    const b = new CapacityBudget({
      unitsPerSecond: 100,
      initialUnits: 0,
      now: () => t,
      sleep: async (ms) => {
        slept.push(ms);
        t += ms;
      },
    });
    await b.acquire(50);
    expect(slept).toEqual([500]);
    expect(new CapacityBudget({ unitsPerSecond: 100, now: () => 0 }).delayFor(100)).toBe(0); // default: full
  });
});
