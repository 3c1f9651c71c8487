/**
 * Finishing runs in the write path. A run is done when its plan is complete and no item is open;
 * the worker whose terminal transition (complete, or a final failure) may have closed the last
 * item checks, and makes the run's `finish` transition (state/run-lifecycle.ts). Reads (status,
 * monitor, the API) never do.
 *
 * Checks are coalesced per run (many items end at once at the tail of a run) and run a moment
 * after the transition, so that on AWS the status index has caught up with the item writes of
 * the other workers finishing at the same time. A worker killed in that moment leaves the check to
 * the others: every worker re-checks the unfinished runs it has worked on at each heartbeat, and
 * `convoy reconcile` checks too.
 *
 * A check is skipped while this worker itself holds a lease on an item of the run: that item is
 * open, so the run cannot be finished, and the check's queries (up to 8 on the status index) would
 * be spent for nothing. In a busy run that was most of the engine's DynamoDB traffic (7.5 queries
 * per s3-sync item in bench:s3 case e). The worker that ends the run's last item holds nothing of
 * it any more when its check runs.
 */
import type { Logger } from '../shared/log.js';
import { toError } from '../shared/errors.js';
import type { ItemStore } from '../state/item-row.js';
import { finishRunIfComplete } from '../state/run-lifecycle.js';
import type { MetaStore } from '../state/runs.js';

export interface RunFinisherOptions {
  /** how long after a terminal transition the run is checked @defaultValue 500 */
  delayMs?: number;
  /** whether this worker holds a lease on an item of the run (then it is open: no check needed) */
  holdsItemOf?: (runId: string) => boolean;
}

export class RunFinisher {
  private readonly scheduled = new Map<string, NodeJS.Timeout>();
  private readonly running = new Set<Promise<void>>();
  /** runs this worker took part in that were not finished when last checked */
  private readonly open = new Set<string>();
  private readonly delayMs: number;
  private readonly holdsItemOf: (runId: string) => boolean;

  constructor(
    private readonly meta: MetaStore,
    private readonly items: ItemStore,
    private readonly log: Logger,
    private readonly onFinished: (runId: string) => void,
    opts: RunFinisherOptions = {},
  ) {
    this.delayMs = opts.delayMs ?? 500;
    this.holdsItemOf = opts.holdsItemOf ?? (() => false);
  }

  /** An item of `runId` reached a terminal status: check the run soon. */
  noteTerminal(runId: string): void {
    this.open.add(runId);
    if (this.scheduled.has(runId)) return;
    const timer = setTimeout(() => {
      this.scheduled.delete(runId);
      this.track(this.check(runId));
    }, this.delayMs);
    timer.unref();
    this.scheduled.set(runId, timer);
  }

  /** Re-check every run this worker saw unfinished (heartbeat; a peer may have died mid-check). */
  sweep(): Promise<void> {
    const checks = [...this.open].filter((r) => !this.scheduled.has(r)).map((r) => this.track(this.check(r)));
    return Promise.all(checks).then(() => undefined);
  }

  /** Run the pending checks now and wait for them (shutdown). */
  async flush(): Promise<void> {
    for (const [runId, timer] of this.scheduled) {
      clearTimeout(timer);
      this.scheduled.delete(runId);
      this.track(this.check(runId));
    }
    await Promise.all([...this.running]);
  }

  private track(p: Promise<void>): Promise<void> {
    this.running.add(p);
    void p.finally(() => this.running.delete(p));
    return p;
  }

  private async check(runId: string): Promise<void> {
    // Open for certain: stays on the list; the sweep or the next terminal transition checks again.
    if (this.holdsItemOf(runId)) return;
    try {
      const outcome = await finishRunIfComplete(this.meta, this.items, runId);
      if (outcome === 'finished') {
        this.log.info({ runId }, 'run finished');
        this.onFinished(runId);
      }
      // A run with open items stays on this worker's list for the next sweep; a finished, paused
      // or cancelled one leaves it (a resume or requeue brings its items, and their checks, back).
      if (outcome !== 'open') this.open.delete(runId);
    } catch (err) {
      this.log.warn(
        { runId, err: toError(err).message },
        'could not check whether the run is finished; will check again',
      );
    }
  }
}
