/**
 * A run's fleet-wide concurrency (`convoy tune --run R --concurrency N`): at most N of the run's
 * items in flight across the fleet, like Step Functions' MaxConcurrency of a map run. Each
 * process takes an even share, max(1, floor(N / W)) with W the live workers on the run (counted as
 * the rate budgets count them, worker/budget/run-budget.ts, recounted every 10 s), so the fleet
 * holds at most max(N, W) of the run's items: with fewer items allowed than workers, each worker
 * still takes one (an exact fleet-wide semaphore would cost a write per item).
 *
 * How it composes with `convoy worker --concurrency C` (the process's slots for all runs): a
 * process works at most min(C, its share of N) items of the run. N above the fleet's total C
 * changes nothing; N below it leaves slots to other runs. A message of a run at its share is
 * handed back as a fresh message delayed a few seconds (not counted toward the DLQ), the way
 * messages of runs a worker does not serve are.
 */
import { liveWorkersOnRun } from './budget/run-budget.js';
import type { EngineContext } from './job-kind.js';

const RECOUNT_MS = 10_000;

export class RunSlots {
  private readonly inFlight = new Map<string, number>();
  private readonly sharers = new Map<string, { n: number; atMs: number }>();

  constructor(private readonly ctx: EngineContext) {}

  /** This process's share of a fleet-wide limit of `limit` items of the run. */
  async share(runId: string, limit: number): Promise<number> {
    const now = this.ctx.now();
    let s = this.sharers.get(runId);
    if (!s || now - s.atMs > RECOUNT_MS) {
      // unreadable heartbeats: assume a large fleet, the side of the limit (as the budgets do)
      s = { n: await liveWorkersOnRun(this.ctx, runId).catch(() => 10), atMs: now };
      this.sharers.set(runId, s);
    }
    return Math.max(1, Math.floor(limit / s.n));
  }

  /** Take a slot of the run (true), or none when its share is in use; no limit: always a slot. */
  async enter(runId: string, limit: number | undefined): Promise<boolean> {
    const share = limit === undefined ? Number.POSITIVE_INFINITY : await this.share(runId, limit);
    // checked and taken with no await between: items entering together cannot both pass
    const held = this.inFlight.get(runId) ?? 0;
    if (held >= share) return false;
    this.inFlight.set(runId, held + 1);
    return true;
  }

  leave(runId: string): void {
    const n = (this.inFlight.get(runId) ?? 1) - 1;
    if (n > 0) this.inFlight.set(runId, n);
    else this.inFlight.delete(runId);
  }
}
