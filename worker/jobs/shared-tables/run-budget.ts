/**
 * One write budget per run and worker process, shared by all of the run's items in flight here.
 * A run's `--max-wcu` is for the whole fleet: each process takes an even share, recounting every
 * 30 s the live workers (heartbeat in the last 30 s) that have this run loaded.
 */
import type { ConvoyContext } from '../../../shared/context.js';
import { listWorkers } from '../../../state/workers.js';
import { CapacityBudget, shareOf } from './capacity-budget.js';

const budgets = new Map<string, { budget: CapacityBudget; checkedAtMs: number; refreshing?: Promise<void> }>();
const REFRESH_MS = 30_000;

export async function liveWorkersOnRun(ctx: ConvoyContext, runId: string): Promise<number> {
  const now = ctx.now();
  const workers = await listWorkers(ctx.meta);
  return workers.filter((w) => w.state === 'running' && now - w.lastBeatAtMs < 30_000 && (w.runs ?? []).includes(runId)).length;
}

export async function runBudget(ctx: ConvoyContext, runId: string, maxWcu: number | undefined): Promise<CapacityBudget | undefined> {
  if (maxWcu === undefined) return undefined;
  let entry = budgets.get(runId);
  if (!entry) {
    const n = await liveWorkersOnRun(ctx, runId).catch(() => 1);
    entry = { budget: new CapacityBudget({ unitsPerSecond: shareOf(maxWcu, n) }), checkedAtMs: ctx.now() };
    budgets.set(runId, entry);
  } else if (ctx.now() - entry.checkedAtMs > REFRESH_MS && !entry.refreshing) {
    const e = entry;
    e.checkedAtMs = ctx.now();
    e.refreshing = liveWorkersOnRun(ctx, runId)
      .then((n) => e.budget.setRate(shareOf(maxWcu, n)))
      .catch(() => undefined)
      .finally(() => (e.refreshing = undefined));
  }
  return entry.budget;
}
