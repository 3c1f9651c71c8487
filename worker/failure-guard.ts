/**
 * Failure tolerance in the write path: after an item of a run fails for good, the worker checks the
 * run's --max-failed (state/run-lifecycle.ts `pauseIfTooManyFailed`) and, past it, pauses the run
 * with one conditional write that records why. Nothing reads-and-pauses elsewhere: status, the
 * monitor and the API only show the reason the write path left.
 *
 * The check is made at once, before the item's processing ends (so a worker with free slots does
 * not take more of the run's items first), and again a moment later: on AWS the status index lags
 * the item writes, so the first count can miss the latest failures. A run with no limit costs one
 * GetItem per check; one with a limit also counts its failed items up to the limit + 1 (bounded by
 * the limit). A worker killed in between leaves the next failure of the run to check; a run whose
 * limit is lowered below its failures is checked by `convoy tune` itself.
 */
import { toError } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import type { ItemStore } from '../state/item-row.js';
import { pauseIfTooManyFailed } from '../state/run-lifecycle.js';
import type { PauseReason } from '../state/run-tuning.js';
import type { MetaStore } from '../state/runs.js';

export class FailureGuard {
  private readonly scheduled = new Map<string, NodeJS.Timeout>();
  private readonly checking = new Map<string, Promise<void>>();
  private readonly running = new Set<Promise<void>>();

  constructor(
    private readonly meta: MetaStore,
    private readonly items: ItemStore,
    private readonly log: Logger,
    /** the run paused itself: the worker re-reads its row at once rather than within the TTL */
    private readonly onPaused: (runId: string, reason: PauseReason) => Promise<void>,
    private readonly recheckDelayMs = 1_000,
  ) {}

  /**
   * An item of `runId` ended `failed`: check the run's limit now (awaited by the item, so a worker
   * takes no more of the run's items before it knows), and once more a moment later for the
   * failures the status index had not caught up with (AWS). A check already under way for the
   * run answers for this failure too, so a burst of failures costs one check at a time.
   */
  async noteFailed(runId: string): Promise<void> {
    this.scheduleRecheck(runId);
    await this.checkOnce(runId);
  }

  private scheduleRecheck(runId: string): void {
    if (this.scheduled.has(runId)) return;
    const timer = setTimeout(() => {
      this.scheduled.delete(runId);
      const p = this.checkOnce(runId).finally(() => this.running.delete(p));
      this.running.add(p);
    }, this.recheckDelayMs);
    timer.unref();
    this.scheduled.set(runId, timer);
  }

  private checkOnce(runId: string): Promise<void> {
    let p = this.checking.get(runId);
    if (!p) {
      p = this.check(runId).finally(() => this.checking.delete(runId));
      this.checking.set(runId, p);
    }
    return p;
  }

  /** Make the pending checks now and wait for them (shutdown). */
  async flush(): Promise<void> {
    for (const [runId, timer] of this.scheduled) {
      clearTimeout(timer);
      this.scheduled.delete(runId);
      const p = this.checkOnce(runId).finally(() => this.running.delete(p));
      this.running.add(p);
    }
    await Promise.all([...this.running]);
  }

  private async check(runId: string): Promise<void> {
    try {
      const r = await pauseIfTooManyFailed(this.meta, this.items, runId);
      if (r.outcome !== 'paused') return;
      this.log.warn(
        { runId, failed: r.reason.failed, allowed: r.reason.allowed },
        `run paused itself: its failed items passed --max-failed (${r.reason.allowed} allowed)`,
      );
      await this.onPaused(runId, r.reason);
    } catch (err) {
      // the next failure of the run (or the re-check) checks again
      this.log.warn({ runId, err: toError(err).message }, 'failure limit check failed');
    }
  }
}
