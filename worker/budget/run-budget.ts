/**
 * One budget per run, limit and worker process, shared by all of the run's items in flight here.
 * A run's limit (`--max-wcu`, `--bwlimit`, `--tpslimit`) is for the whole fleet: each process
 * takes an even share, recounting every 30 s the live workers (heartbeat in the last 30 s) that
 * have this run loaded.
 */
import type { ConvoyContext } from '../../shared/context.js';
import { listWorkers } from '../../state/workers.js';
import { CapacityBudget, shareOf } from './capacity-budget.js';

const budgets = new Map<string, { budget: Promise<CapacityBudget>; checkedAtMs: number; refreshing?: Promise<void> }>();
const REFRESH_MS = 30_000;

export async function liveWorkersOnRun(ctx: ConvoyContext, runId: string): Promise<number> {
  const now = ctx.now();
  const workers = await listWorkers(ctx.meta);
  return workers.filter((w) => w.state === 'running' && now - w.lastBeatAtMs < 30_000 && (w.runs ?? []).includes(runId)).length;
}

/** This process's share of the run's limit `name` (`perSecond` for the whole fleet); none without a limit. */
export async function runBudget(ctx: ConvoyContext, runId: string, perSecond: number | undefined, name = 'wcu'): Promise<CapacityBudget | undefined> {
  if (perSecond === undefined) return undefined;
  const key = `${runId}\n${name}`;
  let entry = budgets.get(key);
  if (!entry) {
    // the entry goes in before the first await: items starting together must share one budget
    const budget = liveWorkersOnRun(ctx, runId)
      .catch(() => 1)
      .then((n) => new CapacityBudget({ unitsPerSecond: shareOf(perSecond, n) }));
    entry = { budget, checkedAtMs: ctx.now() };
    budgets.set(key, entry);
  } else if (ctx.now() - entry.checkedAtMs > REFRESH_MS && !entry.refreshing) {
    const e = entry;
    e.checkedAtMs = ctx.now();
    e.refreshing = Promise.all([e.budget, liveWorkersOnRun(ctx, runId)])
      .then(([budget, n]) => budget.setRate(shareOf(perSecond, n)))
      .catch(() => undefined)
      .finally(() => (e.refreshing = undefined));
  }
  return entry.budget;
}
