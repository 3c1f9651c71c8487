/**
 * Reading a run's snapshot: everything the summary, the dashboard, `serve` and /metrics show.
 *
 * What one refresh reads (and so what it costs), for a run with W workers:
 *   - the run row (1 GetItem) and the heartbeat rows (1 Query, W rows),
 *   - the counters: per-worker totals (1 Query, W rows) and the minute buckets of the chart
 *     window; minutes that are over never change (a flush writes the bucket of its own clock), so
 *     only the current and the previous minute are read again (2 Queries, <= 2W rows),
 *   - leased, retrying and failed items: their ids from the status index (8 shards each), re-read
 *     from the table with consistent BatchGetItems (the index lags on AWS:
 *     state/status-index.ts); cost grows with items in flight and failures, not the run's size,
 *   - the queue's and DLQ's attributes (2 GetQueueAttributes).
 * The big sets (pending items, the whole failed set for failures by class) are counted exactly
 * in the background every `recountEveryMs` (or on every refresh while they are small), never on
 * the refresh path; see rates.ts `advanceCounts` for the numbers shown in between.
 */
import {
  pauseAdvice,
  rateLimitsOf,
  runSettings,
  specSummaryOf,
  type RunSettingsView,
} from '../coordinator/run-settings.js';
import type { ConvoyContext } from '../shared/context.js';
import { InputError, toError } from '../shared/errors.js';
import type { QueueDepth } from '../shared/work-queue.js';
import {
  emptyCounters,
  minuteBucket,
  readCounterTotals,
  reconcileTotals,
  type Counters,
  type RunTotals,
} from '../state/counters.js';
import { countsByStatus } from '../state/status-index.js';
import { getRun, type RunRow } from '../state/runs.js';
import { failedSetSummary, forEachItemSummary, readCounterBuckets, type ItemSummaryRow } from '../state/views.js';
import { listWorkers, type WorkerHeartbeat } from '../state/workers.js';
import { readFleetRates, type FleetRateRow } from '../state/fleet-rates.js';
import {
  advanceCounts,
  etaWithLeaseWait,
  exactCounts,
  leaseWaitOf,
  rateOverWindow,
  runHasEta,
  throughputSeries,
  workerState,
  type ExactCounts,
  type LeaseWait,
  type MinuteCounters,
  type Rate,
  type SeriesPoint,
  type StatusCounts,
  type WorkerState,
} from './rates.js';

export interface SnapshotOptions {
  /** minutes of counters the rate and ETA are computed over. @defaultValue 5 */
  rateWindowMinutes?: number;
  /** minutes of the throughput chart (0 = none). @defaultValue 30 */
  seriesMinutes?: number;
  /** a running worker whose last heartbeat is older than this is stale. @defaultValue 30000 */
  staleAfterMs?: number;
  /** how often the big sets are counted exactly (in the background). @defaultValue 30000 */
  recountEveryMs?: number;
  /** sets up to this size are counted exactly on every refresh (cheap). @defaultValue 5000 */
  smallSetMax?: number;
  /** count everything exactly before returning (one-shot summaries). @defaultValue false */
  exact?: boolean;
  /** stopped workers whose last beat is older than this are left out. @defaultValue 3600000 */
  forgetStoppedAfterMs?: number;
  /** workers without a heartbeat for this long (killed, host gone) are left out, counted as gone. @defaultValue 600000 */
  goneAfterMs?: number;
  /** recent failures kept for the dashboard's log. @defaultValue 20 */
  recentFailures?: number;
}

export interface WorkerView extends WorkerHeartbeat {
  status: WorkerState;
  /** ms since the last heartbeat */
  beatAgeMs: number;
  /** this worker's rate over the window, all runs it reported counters for in this run */
  itemsPerMin: number;
  mibPerSec: number;
}

export interface RunSnapshot {
  run: RunRow;
  total: number;
  counts: StatusCounts;
  /** true when every count was exact on this refresh; otherwise see countsExactAtMs */
  countsExact: boolean;
  countsExactAtMs: number | null;
  /** cumulative totals (done, failed, retries, bytes, objects, skipped, skippedBytes) */
  counters: Counters;
  /**
   * where done / bytes / objects / skipped come from: the counters (cheap, lag by a flush
   * interval, lose a killed worker's last seconds) or, once every item is finished and the
   * counters disagree with the exact done count, the item rows (exact)
   */
  totalsFrom: RunTotals['from'];
  /** pending + leased + retrying */
  remaining: number;
  /** progress is done / total; failed items are shown apart, never as progress */
  progress: { done: number; failed: number; total: number; donePercent: number; failedPercent: number };
  /** leased items whose owner is gone: they wait for their leases to run out (null: none) */
  leaseWait: LeaseWait | null;
  failuresByClass: Record<string, number>;
  recentFailures: ItemSummaryRow[];
  /** adaptive rate control: the fleet's rate per destination that has throttled */
  fleetRates: FleetRateRow[];
  rate: Rate;
  etaSeconds: number | null;
  series: SeriesPoint[];
  queue: QueueDepth | null;
  workers: WorkerView[];
  workerCounts: Record<WorkerState, number>;
  /** reads that failed but did not stop the snapshot (e.g. the queue) */
  warnings: string[];
  /** the run's live settings (concurrency, rate limits, max-failed): tuned, planned or none */
  settings: RunSettingsView;
  /** why the run paused itself and what to do (its failed items passed --max-failed); null otherwise */
  pauseAdvice: string | null;
  generatedAtMs: number;
  refreshMs: number;
}

interface FailedCache {
  failed: number;
  atMs: number;
  byClass: Record<string, number>;
  recent: ItemSummaryRow[];
}

export class SnapshotReader {
  private readonly opts: Required<SnapshotOptions>;
  private readonly minuteCache = new Map<string, MinuteCounters>();
  private readonly exact = new Map<string, ExactCounts>();
  private readonly failed = new Map<string, FailedCache>();
  private readonly background = new Map<string, Promise<void>>();
  /** a finished run's totals from its item rows, valid while its done and failed counts stay the same */
  private readonly itemTotals = new Map<string, { done: number; failed: number; counters: Counters }>();
  /** the last background error, shown as a warning once */
  private backgroundError: string | undefined;

  constructor(
    private readonly ctx: ConvoyContext,
    opts: SnapshotOptions = {},
  ) {
    this.opts = {
      rateWindowMinutes: opts.rateWindowMinutes ?? 5,
      seriesMinutes: opts.seriesMinutes ?? 30,
      staleAfterMs: opts.staleAfterMs ?? 30_000,
      recountEveryMs: opts.recountEveryMs ?? 30_000,
      smallSetMax: opts.smallSetMax ?? 5_000,
      exact: opts.exact ?? false,
      forgetStoppedAfterMs: opts.forgetStoppedAfterMs ?? 3_600_000,
      goneAfterMs: opts.goneAfterMs ?? 600_000,
      recentFailures: opts.recentFailures ?? 20,
    };
  }

  get options(): Readonly<Required<SnapshotOptions>> {
    return this.opts;
  }

  /** Wait for background recounts (tests and shutdown). */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.background.values()]);
  }

  async read(runId: string): Promise<RunSnapshot> {
    const started = Date.now();
    const warnings: string[] = [];
    const minutes = Math.max(this.opts.rateWindowMinutes, this.opts.seriesMinutes);
    // Exact counts: read on the refresh path when asked for or cheap (the last exact count was
    // small), in the background when due and expensive; otherwise advanced by the counters.
    let base = this.exact.get(runId);
    const countsExact = this.opts.exact || (base !== undefined && base.counts.pending <= this.opts.smallSetMax);
    const smallSets = countsExact
      ? this.recount(runId).then((e) => ({ ...e.counts, exact: e }))
      : countsByStatus(this.ctx.items, runId, ['leased', 'retrying', 'failed']).then((c) => ({
          ...c,
          exact: undefined,
        }));
    const leasedRows: ItemSummaryRow[] = [];
    const [run, sets, totals, buckets, heartbeats, queue, fleetRates] = await Promise.all([
      getRun(this.ctx.meta, runId),
      smallSets,
      readCounterTotals(this.ctx.meta, runId),
      this.minuteBuckets(runId, minutes),
      listWorkers(this.ctx.meta),
      this.ctx.queue.depth().catch((err) => {
        warnings.push(`queue: ${toError(err).message}`);
        return null;
      }),
      readFleetRates(this.ctx.meta, runId),
      forEachItemSummary(this.ctx.items, runId, 'leased', (page) => void leasedRows.push(...page)),
    ]);
    if (!run) throw new InputError(`run "${runId}" not found; list runs with \`convoy status\``);
    const now = this.ctx.now();
    const total = run.plannedItems;
    if (sets.exact) base = sets.exact;
    const recountDue = !sets.exact && (!base || now - base.atMs >= this.opts.recountEveryMs);
    const counts = sets.exact
      ? sets.exact.counts
      : advanceCounts(base, {
          total,
          leased: sets.leased,
          retrying: sets.retrying,
          failed: sets.failed,
          counterDone: totals.total.done,
        });

    const failures = await this.failures(runId, counts.failed, now);
    // Started after this refresh's own reads, so the big count does not slow the refresh down.
    if (recountDue) this.inBackground(`count:${runId}`, () => this.recount(runId).then(() => undefined));
    if (this.backgroundError) {
      warnings.push(this.backgroundError);
      this.backgroundError = undefined;
    }

    // Reads never write: a run becomes done in the workers' write path, not here.
    const remaining = counts.pending + counts.leased + counts.retrying;
    const runTotals = await this.totals(runId, totals.total, counts, sets.exact !== undefined);

    const windowBuckets = buckets.slice(-this.opts.rateWindowMinutes);
    const rate = rateOverWindow(windowBuckets, now);
    const workerCounts: Record<WorkerState, number> = { alive: 0, stale: 0, draining: 0, stopped: 0, gone: 0 };
    const workers = heartbeats
      .filter((w) => w.state !== 'stopped' || now - w.lastBeatAtMs < this.opts.forgetStoppedAfterMs)
      .map((w) => {
        const r = rateOverWindow(windowBuckets, now, (b) => b.byWorker.get(w.workerId) ?? emptyCounters());
        return {
          ...w,
          status: workerState(w, now, this.opts.staleAfterMs, this.opts.goneAfterMs),
          beatAgeMs: now - w.lastBeatAtMs,
          itemsPerMin: r.itemsPerMin,
          mibPerSec: r.mibPerSec,
        };
      })
      .filter((w) => {
        workerCounts[w.status]++;
        return w.status !== 'gone';
      })
      .sort((a, b) => (a.instance ?? '').localeCompare(b.instance ?? '') || a.workerId.localeCompare(b.workerId));
    const liveOwners = new Set(
      workers.filter((w) => w.status === 'alive' || w.status === 'draining').map((w) => w.workerId),
    );
    const leaseWait = leaseWaitOf(leasedRows, liveOwners, now);
    const pct = (n: number) => (total ? Math.round((1000 * n) / total) / 10 : 0);

    return {
      run,
      total,
      counts,
      countsExact,
      countsExactAtMs: base?.atMs ?? null,
      counters: runTotals.counters,
      totalsFrom: runTotals.from,
      remaining,
      progress: {
        done: counts.done,
        failed: counts.failed,
        total,
        donePercent: pct(counts.done),
        failedPercent: pct(counts.failed),
      },
      leaseWait,
      failuresByClass: failures.byClass,
      recentFailures: failures.recent,
      fleetRates: [...fleetRates.values()],
      rate,
      etaSeconds: !runHasEta(run.state) ? null : etaWithLeaseWait(remaining, rate.itemsPerMin, leaseWait),
      series: this.opts.seriesMinutes > 0 ? throughputSeries(buckets.slice(-this.opts.seriesMinutes), now) : [],
      queue,
      workers,
      workerCounts,
      warnings,
      settings: runSettings(run, rateLimitsOf(this.ctx, run.kind), specSummaryOf(this.ctx, run)),
      pauseAdvice: pauseAdvice(run) ?? null,
      generatedAtMs: now,
      refreshMs: Date.now() - started,
    };
  }

  /**
   * The run's totals (see state/counters.ts reconcileTotals): the counters, or the item rows' sum
   * once the run is finished and the counters disagree. That sum reads every item of the run, so
   * it is taken only on an exact count, once per (done, failed) count (finished rows no longer
   * change), and in the background unless this reader is one-shot (`exact`).
   */
  private async totals(
    runId: string,
    counters: Counters,
    counts: StatusCounts,
    countedExactly: boolean,
  ): Promise<RunTotals> {
    const withFailed = { ...counters, failed: countedExactly ? counts.failed : counters.failed };
    const cached = this.itemTotals.get(runId);
    if (cached && cached.done === counts.done && cached.failed === counts.failed)
      return { counters: { ...cached.counters, retries: counters.retries }, from: 'items' };
    const unfinished = counts.pending + counts.leased + counts.retrying;
    if (!countedExactly || unfinished > 0 || counters.done === counts.done)
      return { counters: withFailed, from: 'counters' };
    const load = async () => {
      const t = await reconcileTotals(this.ctx.items, runId, counters, {
        done: counts.done,
        failed: counts.failed,
        unfinished,
      });
      if (t.from === 'items')
        this.itemTotals.set(runId, { done: counts.done, failed: counts.failed, counters: t.counters });
      return t;
    };
    if (this.opts.exact) return load();
    this.inBackground(`totals:${runId}`, () => load().then(() => undefined));
    return { counters: withFailed, from: 'counters' };
  }

  /** Count every status exactly (O(unfinished items)) and remember it as the new base. */
  private async recount(runId: string): Promise<ExactCounts> {
    const atMs = this.ctx.now();
    const [{ pending, leased, retrying, failed }, totals, run] = await Promise.all([
      countsByStatus(this.ctx.items, runId, ['pending', 'leased', 'retrying', 'failed']),
      readCounterTotals(this.ctx.meta, runId),
      getRun(this.ctx.meta, runId),
    ]);
    const exact = {
      counts: exactCounts(run?.plannedItems ?? 0, { pending, leased, retrying, failed }),
      counterDone: totals.total.done,
      atMs,
    };
    this.exact.set(runId, exact);
    return exact;
  }

  /** Failures by class: re-read when the failed count changed or the cache is old. */
  private async failures(
    runId: string,
    failedCount: number,
    now: number,
  ): Promise<{ byClass: Record<string, number>; recent: ItemSummaryRow[] }> {
    if (failedCount === 0) {
      this.failed.delete(runId);
      return { byClass: {}, recent: [] };
    }
    const cached = this.failed.get(runId);
    const fresh = cached && cached.failed === failedCount && now - cached.atMs < this.opts.recountEveryMs;
    if (fresh) return cached;
    const load = async () => {
      const s = await failedSetSummary(this.ctx.items, runId, { recent: this.opts.recentFailures });
      this.failed.set(runId, { failed: failedCount, atMs: now, ...s });
    };
    if (this.opts.exact || !cached || failedCount <= this.opts.smallSetMax) {
      await load();
      return this.failed.get(runId)!;
    }
    this.inBackground(`failed:${runId}`, load);
    return cached;
  }

  private inBackground(key: string, fn: () => Promise<void>): void {
    if (this.background.has(key)) return;
    const p = fn()
      .catch((err) => {
        this.backgroundError = `background recount: ${toError(err).message}`;
      })
      .finally(() => this.background.delete(key));
    this.background.set(key, p);
  }

  /** The last `minutes` minute buckets, oldest first; finished minutes come from the cache. */
  private async minuteBuckets(runId: string, minutes: number): Promise<MinuteCounters[]> {
    const nowBucket = minuteBucket(this.ctx.now());
    const wanted = Array.from({ length: minutes }, (_, i) => nowBucket - minutes + 1 + i);
    const key = (b: number) => `${runId}#${b}`;
    // The previous minute may still get a flush that started before the minute turned.
    const missing = wanted.filter((b) => b >= nowBucket - 1 || !this.minuteCache.has(key(b)));
    const read = await readCounterBuckets(this.ctx.meta, runId, missing);
    for (const b of read) this.minuteCache.set(key(b.bucket), b);
    for (const k of [...this.minuteCache.keys()]) {
      const [r, b] = [k.slice(0, k.lastIndexOf('#')), Number(k.slice(k.lastIndexOf('#') + 1))];
      if (r === runId && b < wanted[0]!) this.minuteCache.delete(k);
    }
    return wanted.map((b) => this.minuteCache.get(key(b))!);
  }
}
