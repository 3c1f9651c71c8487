/**
 * How `convoy worker --processes N|auto` divides a host and when its supervisor restarts a
 * process or (auto) starts the next (worker/processes.ts): pure decisions.
 */
import { describe, expect, it } from 'vitest';
import { hasRaisedScavengerCapacity, youngGenerationArgs } from '../../shared/young-generation.js';
import {
  childNodeArgs,
  DEFAULT_RESTART,
  drainWaitMs,
  growthPolicy,
  hostExitCode,
  MAX_PROCESSES,
  nextStreak,
  onChildExit,
  parseProcesses,
  planChildren,
  raisedTotals,
  resolveProcesses,
  processesToStart,
  restartDelayMs,
  shareOf,
  splitTotal,
} from '../../worker/processes.js';

describe('--processes', () => {
  it('is "auto" or an integer from 1 to MAX_PROCESSES; anything else is undefined (the CLI exits 2)', () => {
    expect(parseProcesses('auto')).toBe('auto');
    expect(parseProcesses('AUTO')).toBe('auto');
    expect(parseProcesses('1')).toBe(1);
    expect(parseProcesses('4')).toBe(4);
    expect(parseProcesses(String(MAX_PROCESSES))).toBe(MAX_PROCESSES);
    for (const bad of ['0', '-1', 'lots', '', '1.5', '2x', String(MAX_PROCESSES + 1), '1e3'])
      expect(parseProcesses(bad), bad).toBeUndefined();
  });

  it('auto is one per core (at least one); a number is itself', () => {
    expect(resolveProcesses('auto', 2)).toBe(2);
    expect(resolveProcesses('auto', 1)).toBe(1);
    expect(resolveProcesses('auto', 0)).toBe(1);
    expect(resolveProcesses('auto', 1000)).toBe(MAX_PROCESSES);
    expect(resolveProcesses(3, 2)).toBe(3);
  });
});

describe('splitting the host totals', () => {
  it('splits as evenly as it goes, the first processes taking the remainder, at least 1 each', () => {
    expect(splitTotal(8, 2)).toEqual([4, 4]);
    expect(splitTotal(7, 2)).toEqual([4, 3]);
    expect(splitTotal(10, 4)).toEqual([3, 3, 2, 2]);
    expect(splitTotal(1, 1)).toEqual([1]);
    expect(splitTotal(2, 4)).toEqual([1, 1, 1, 1]);
  });

  it("given totals are the host's: children get shares; the ids are <id>-p1..<id>-pN", () => {
    const plans = planChildren({ processes: 2, cores: 2, workerId: 'h', concurrency: 16, transfers: 64, threads: 4 });
    expect(plans).toEqual([
      { slot: 1, workerId: 'h-p1', concurrency: 8, transfers: 32, threads: 2 },
      { slot: 2, workerId: 'h-p2', concurrency: 8, transfers: 32, threads: 2 },
    ]);
    const total = (k: 'concurrency' | 'transfers' | 'threads') => plans.reduce((a, p) => a + (p[k] ?? 0), 0);
    expect([total('concurrency'), total('transfers'), total('threads')]).toEqual([16, 64, 4]);
  });

  it('counts not given keep each process at its own default; threads not given: floor(cores / N), at least 1', () => {
    const plans = planChildren({ processes: 3, cores: 8, workerId: 'h' });
    for (const p of plans) {
      expect(p.concurrency).toBeUndefined();
      expect(p.transfers).toBeUndefined();
      expect(p.threads).toBe(2);
    }
    expect(planChildren({ processes: 4, cores: 2, workerId: 'h' }).map((p) => p.threads)).toEqual([1, 1, 1, 1]);
  });

  it('a total below the process count is raised to one each, and that is said', () => {
    const input = { processes: 4, cores: 4, workerId: 'h', concurrency: 2, transfers: 64 };
    expect(planChildren(input).map((p) => p.concurrency)).toEqual([1, 1, 1, 1]);
    expect(raisedTotals(input)).toEqual(['--concurrency 2 < 4 processes: 1 each']);
    expect(raisedTotals({ processes: 2, cores: 2, workerId: 'h', concurrency: 8 })).toEqual([]);
  });
});

describe("the children's node options", () => {
  it("fix the young generation at Node 20's largest unless the operator sized it; the operator's own flags come last", () => {
    const fixed = [
      '--min-semi-space-size=16',
      '--max-semi-space-size=16',
      // Node 24's V8 (13.6): the scavenger's capacity back to 8 MB (shared/young-generation.ts)
      ...(hasRaisedScavengerCapacity(process.versions.v8) ? ['--scavenger-max-new-space-capacity-mb=8'] : []),
    ];
    expect(childNodeArgs([])).toEqual(['--no-experimental-detect-module', ...fixed]);
    expect(childNodeArgs(['--max-old-space-size=512'], '--enable-source-maps')).toEqual([
      '--no-experimental-detect-module',
      ...fixed,
      '--max-old-space-size=512',
    ]);
    expect(childNodeArgs(['--max-semi-space-size=64'])).toEqual([
      '--no-experimental-detect-module',
      '--max-semi-space-size=64',
    ]);
    expect(childNodeArgs(['--min-semi-space-size=4'])).toEqual([
      '--no-experimental-detect-module',
      '--min-semi-space-size=4',
    ]);
    expect(childNodeArgs([], '--import x.mjs --max_semi_space_size=4')).toEqual(['--no-experimental-detect-module']);
    expect(childNodeArgs(['--scavenger-max-new-space-capacity-mb=16'])).toEqual([
      '--no-experimental-detect-module',
      '--scavenger-max-new-space-capacity-mb=16',
    ]);
  });

  it("the scavenger's capacity only where V8 raised it (13.6, Node 24): Node 20 refuses the flag", () => {
    const semi = ['--min-semi-space-size=16', '--max-semi-space-size=16'];
    expect(youngGenerationArgs([], '', '11.3.244.8-node.38')).toEqual(semi); // Node 20
    expect(youngGenerationArgs([], '', '12.4.254.21-node.33')).toEqual(semi); // Node 22
    for (const v8 of ['13.6.233.17-node.63', '13.7.1', '14.0.0'])
      expect(youngGenerationArgs([], '', v8), v8).toEqual([...semi, '--scavenger-max-new-space-capacity-mb=8']);
    expect(youngGenerationArgs([], '--max-semi-space-size=8', '13.6.233.17-node.63')).toEqual([]);
  });
});

describe('restarts', () => {
  it('a crash (non-zero, or a signal) is restarted; exit 0 is done; exit 2 (bad input) gives up; while stopping, every exit is the drain', () => {
    expect(onChildExit({ code: 1, signal: null }, false)).toBe('restart');
    expect(onChildExit({ code: null, signal: 'SIGKILL' }, false)).toBe('restart');
    expect(onChildExit({ code: 0, signal: null }, false)).toBe('done');
    expect(onChildExit({ code: 2, signal: null }, false)).toBe('give-up');
    expect(onChildExit({ code: 1, signal: null }, true)).toBe('drained');
    expect(onChildExit({ code: null, signal: 'SIGKILL' }, true)).toBe('drained');
  });

  it('full-jitter exponential delay, 1 s base, 30 s cap', () => {
    expect(restartDelayMs(1, DEFAULT_RESTART, () => 0.999999)).toBe(999);
    expect(restartDelayMs(2, DEFAULT_RESTART, () => 0.999999)).toBe(1_999);
    expect(restartDelayMs(3, DEFAULT_RESTART, () => 0.5)).toBe(2_000);
    expect(restartDelayMs(50, DEFAULT_RESTART, () => 0.999999)).toBe(29_999);
    expect(restartDelayMs(4, DEFAULT_RESTART, () => 0)).toBe(0);
  });

  it('quick failures lengthen the streak; a process up a minute starts it over', () => {
    expect(nextStreak(0, 100)).toBe(1);
    expect(nextStreak(3, 5_000)).toBe(4);
    expect(nextStreak(7, 59_999)).toBe(8);
    expect(nextStreak(7, 60_000)).toBe(1);
  });
});

describe('the host exit code', () => {
  const ok = { code: 0, signal: null };
  it('stopped: 0 when every process drained (exit 0, or the forwarded signal before it had a handler); 1 when one had to be killed or failed', () => {
    expect(hostExitCode([ok, ok], { stopped: true, gaveUp: false })).toBe(0);
    expect(hostExitCode([ok, { code: null, signal: 'SIGTERM' }], { stopped: true, gaveUp: false })).toBe(0);
    expect(hostExitCode([ok, { code: null, signal: 'SIGKILL' }], { stopped: true, gaveUp: false })).toBe(1);
    expect(hostExitCode([ok, { code: 1, signal: null }], { stopped: true, gaveUp: false })).toBe(1);
  });

  it('not stopped: 0 when every process finished (--exit-when-idle); bad input in a process: 2', () => {
    expect(hostExitCode([ok, ok], { stopped: false, gaveUp: false })).toBe(0);
    expect(hostExitCode([ok, { code: 2, signal: null }], { stopped: true, gaveUp: true })).toBe(2);
  });

  it('the drain wait is the deadline, the force time and a margin', () => {
    expect(drainWaitMs({ shutdownDeadlineMs: 30_000, shutdownForceMs: 5_000 })).toBe(40_000);
    expect(drainWaitMs({ shutdownDeadlineMs: 300, shutdownForceMs: 0 }, 1_000)).toBe(1_300);
  });
});

describe('--processes auto grows when every process is CPU-bound', () => {
  it("the host's totals: as given, else what one process per core would take; one process first", () => {
    expect(growthPolicy({ processes: 2 })).toEqual({
      initial: 1,
      atCores: 0.9,
      sampleMs: 3_000,
      concurrency: 16,
      transfers: 128,
    });
    expect(growthPolicy({ processes: 4, concurrency: 64, transfers: 100 }, 0.5)).toMatchObject({
      atCores: 0.5,
      concurrency: 64,
      transfers: 100,
    });
  });

  it('each running process takes its share of the totals, the first ones the remainder', () => {
    const policy = growthPolicy({ processes: 3, concurrency: 10, transfers: 129 });
    expect(shareOf(policy, 1, 1)).toEqual({ concurrency: 10, transfers: 129 });
    expect([1, 2].map((slot) => shareOf(policy, 2, slot))).toEqual([
      { concurrency: 5, transfers: 65 },
      { concurrency: 5, transfers: 64 },
    ]);
    expect(shareOf(policy, 3, 3)).toEqual({ concurrency: 3, transfers: 43 });
    // one process never takes more than a worker process may (a 256-core host's defaults)
    expect(shareOf(growthPolicy({ processes: 256 }), 1, 1)).toEqual({ concurrency: 1000, transfers: 4096 });
  });

  it('grows only with a slot left and every running process at or over the threshold for a full window', () => {
    const policy = { atCores: 0.9 };
    expect(processesToStart([0.95], 2, policy)).toBe(1);
    expect(processesToStart([0.85], 2, policy)).toBe(0); // not CPU-bound: a sibling would not help
    expect(processesToStart([0.95, 0.6], 4, policy)).toBe(0); // one is not
    expect(processesToStart([0.95, undefined], 4, policy)).toBe(0); // one just started: no window yet
    expect(processesToStart([0.99, 0.99], 2, policy)).toBe(0); // every core has its process
    expect(processesToStart([], 2, policy)).toBe(0);
  });

  it('doubles the running processes, up to the slots left: a 64-core host is full after 6 windows', () => {
    const policy = { atCores: 0.9 };
    expect(processesToStart([0.9, 0.97], 4, policy)).toBe(2);
    expect(processesToStart([0.95, 0.95, 0.95], 4, policy)).toBe(1); // one slot left
    expect(processesToStart([0.95, 0.95, 0.95], 5, policy)).toBe(2);
    let running = 1;
    let windows = 0;
    while (running < 64) {
      running += processesToStart(Array(running).fill(1), 64, policy);
      windows++;
    }
    expect([running, windows]).toEqual([64, 6]);
  });
});
