/**
 * One budget per run, limit and worker process, shared by all of the run's items in flight here.
 * A run's limit (`--max-wcu`, `--bwlimit`, `--tpslimit`) is for the whole fleet: each process
 * takes an even share of it. Three things keep the fleet within the limit from the first second
 * (a fleet that starts together used to take N whole budgets until the first recount):
 *  - the share is counted before the first unit is taken, over the live workers (heartbeat in the
 *    last 30 s) that have this run loaded, plus live workers that have not loaded any run yet (a
 *    worker that just started is about to take this run's messages like the others; counting it
 *    early errs on the side of the limit), plus this process even before its own first heartbeat;
 *  - the bucket starts empty, so joining workers do not each add a burst;
 *  - the share is recounted every 2 s during a budget's first minute (when workers join), then
 *    every 30 s (a recount is one Query of the heartbeat rows).
 * A limit tuned while the run works (`convoy tune --bwlimit/--tpslimit`, state/run-tuning.ts)
 * arrives here as a new `perSecond` (the caller passes the effective limit: the tuned one, else
 * the planned one): the same bucket takes the new rate at once, with the last count of sharers,
 * so items in flight slow down or speed up without a burst. A limit tuned off is no budget.
 */
import { hostname } from 'node:os';
import type { ConvoyContext } from '../../shared/context.js';
import { listWorkers, type WorkerHeartbeat } from '../../state/workers.js';
import { CapacityBudget, shareOf } from './capacity-budget.js';
import { PerContext } from '../../shared/per-context.js';

interface BudgetEntry {
  budget: Promise<CapacityBudget>;
  /** the fleet-wide limit the share was taken of (a tune changes it: `convoy tune --bwlimit`) */
  perSecond: number;
  /** workers sharing it, as last counted */
  sharers: number;
  createdAtMs: number;
  checkedAtMs: number;
  refreshing?: Promise<void>;
}
const budgets = new PerContext<BudgetEntry>();
export const LIVE_WORKER_MS = 30_000;
const RECOUNT_EARLY_MS = 2_000;
const EARLY_PHASE_MS = 60_000;
const RECOUNT_MS = 30_000;
/** the rate of a budget whose limit was tuned off, for the items still holding it */
const UNLIMITED = 1e12;

const isThisProcess = (w: Pick<WorkerHeartbeat, 'host' | 'pid'>) => w.pid === process.pid && w.host === hostname();

/** Workers sharing the run's budget now (at least 1: this process). */
export function countSharers(workers: WorkerHeartbeat[], runId: string, nowMs: number): number {
  const live = workers.filter((w) => w.state === 'running' && nowMs - w.lastBeatAtMs < LIVE_WORKER_MS);
  const sharing = live.filter((w) => isThisProcess(w) || !w.runs?.length || w.runs.includes(runId));
  return sharing.length + (sharing.some(isThisProcess) ? 0 : 1);
}

export async function liveWorkersOnRun(ctx: ConvoyContext, runId: string): Promise<number> {
  return countSharers(await listWorkers(ctx.meta), runId, ctx.now());
}

/** This process's share of the run's limit `name` (`perSecond` for the whole fleet); none without a limit. */
export async function runBudget(
  ctx: ConvoyContext,
  runId: string,
  perSecond: number | undefined,
  name = 'wcu',
): Promise<CapacityBudget | undefined> {
  const key = `${runId}\n${name}`;
  const entries = budgets.of(ctx);
  let entry = entries.get(key);
  if (perSecond === undefined) {
    // tuned off: what waits for the bucket now goes at once (new work takes no budget)
    if (entry && entry.perSecond !== UNLIMITED) {
      entry.perSecond = UNLIMITED;
      void entry.budget.then((budget) => budget.setRate(UNLIMITED));
    }
    return undefined;
  }
  const now = ctx.now();
  if (entry && entry.perSecond !== perSecond) {
    const e = entry;
    e.perSecond = perSecond;
    void e.budget.then((budget) => budget.setRate(shareOf(perSecond, e.sharers)));
  }
  if (!entry) {
    // the entry goes in before the first await: items starting together must share one budget.
    // When the heartbeats cannot be read, assume a large fleet (10) rather than none: a slow
    // start is better than a limit broken.
    const created: BudgetEntry = {
      budget: liveWorkersOnRun(ctx, runId)
        .catch(() => 10)
        .then((n) => {
          created.sharers = n;
          return new CapacityBudget({ unitsPerSecond: shareOf(created.perSecond, n), initialUnits: 0 });
        }),
      perSecond,
      sharers: 1,
      createdAtMs: now,
      checkedAtMs: now,
    };
    entry = created;
    entries.set(key, entry);
  } else if (
    now - entry.checkedAtMs > (now - entry.createdAtMs < EARLY_PHASE_MS ? RECOUNT_EARLY_MS : RECOUNT_MS) &&
    !entry.refreshing
  ) {
    const e = entry;
    e.checkedAtMs = now;
    e.refreshing = Promise.all([e.budget, liveWorkersOnRun(ctx, runId)])
      .then(([budget, n]) => {
        e.sharers = n;
        budget.setRate(shareOf(e.perSecond, n));
      })
      .catch(() => undefined)
      .finally(() => (e.refreshing = undefined));
  }
  return entry.budget;
}
