/**
 * The monitor's arithmetic, pure (no I/O): rates over a rolling window of minute buckets, the
 * ETA, the throughput series for the chart, worker staleness, and the item counts between two
 * exact counts.
 *
 * Why counts are "advanced" between exact counts: counting pending items exactly means reading
 * every pending entry of the status index (100k pending = ~1-3 s on the local stack, and read
 * units on AWS), so a dashboard does that in the background every `recountEveryMs`. In between,
 * leased / retrying / failed are counted exactly (small sets) and `done` is the last exact done
 * plus what the counters say was done since. Counters can lose a few seconds on a crash or
 * double-count a retried flush; the next exact count corrects that drift.
 */
import type { Counters } from '../state/counters.js';
import type { ItemStatus } from '../state/items.js';
import type { WorkerHeartbeat } from '../state/workers.js';

export const MIB = 1024 * 1024;

export type StatusCounts = Record<ItemStatus, number>;

export interface MinuteCounters {
  bucket: number;
  counters: Counters;
  byWorker: Map<string, Counters>;
}

export interface Rate {
  windowMinutes: number;
  itemsPerMin: number;
  failedPerMin: number;
  objectsPerMin: number;
  mibPerSec: number;
}

/**
 * Rate over the buckets (oldest first, the last one the current, partial minute). The elapsed
 * time starts at the first bucket with activity, so a run that started 40 s ago is not diluted
 * over the whole window.
 */
export function rateOverWindow(buckets: MinuteCounters[], nowMs: number, pick: (b: MinuteCounters) => Counters = (b) => b.counters): Rate {
  const windowMinutes = buckets.length;
  const first = buckets.findIndex((b) => {
    const c = pick(b);
    return c.done + c.failed + c.retries > 0;
  });
  if (first < 0) return { windowMinutes, itemsPerMin: 0, failedPerMin: 0, objectsPerMin: 0, mibPerSec: 0 };
  const partial = (nowMs % 60_000) / 60_000;
  const elapsedMin = Math.max(1 / 60, buckets.length - 1 - first + partial);
  let done = 0;
  let failed = 0;
  let objects = 0;
  let bytes = 0;
  for (const b of buckets.slice(first)) {
    const c = pick(b);
    done += c.done;
    failed += c.failed;
    objects += c.objects;
    bytes += c.bytes;
  }
  return {
    windowMinutes,
    itemsPerMin: done / elapsedMin,
    failedPerMin: failed / elapsedMin,
    objectsPerMin: objects / elapsedMin,
    mibPerSec: bytes / MIB / (elapsedMin * 60),
  };
}

/** Seconds left at the current rate; 0 when nothing is left, null when no rate is known. */
export function etaSeconds(remaining: number, itemsPerMin: number): number | null {
  if (remaining <= 0) return 0;
  if (!(itemsPerMin > 0)) return null;
  return Math.round((remaining / itemsPerMin) * 60);
}

export interface SeriesPoint {
  bucket: number;
  itemsPerMin: number;
  mibPerSec: number;
}

/** One point per minute for the chart; the current minute is scaled to a per-minute rate. */
export function throughputSeries(buckets: MinuteCounters[], nowMs: number): SeriesPoint[] {
  const partial = Math.max(1 / 60, (nowMs % 60_000) / 60_000);
  return buckets.map((b, i) => {
    const minutes = i === buckets.length - 1 ? partial : 1;
    return { bucket: b.bucket, itemsPerMin: b.counters.done / minutes, mibPerSec: b.counters.bytes / MIB / (minutes * 60) };
  });
}

export type WorkerState = 'alive' | 'stale' | 'draining' | 'stopped';

/** A worker is stale when it says it is running but has not beaten for `staleAfterMs`. */
export function workerState(w: Pick<WorkerHeartbeat, 'state' | 'lastBeatAtMs'>, nowMs: number, staleAfterMs: number): WorkerState {
  if (w.state === 'stopped') return 'stopped';
  if (nowMs - w.lastBeatAtMs > staleAfterMs) return 'stale';
  return w.state === 'draining' ? 'draining' : 'alive';
}

/** An exact count of every status, and the counters' cumulative `done` read at the same time. */
export interface ExactCounts {
  counts: StatusCounts;
  counterDone: number;
  atMs: number;
}

/**
 * Counts now, from exact counts of the small sets (leased, retrying, failed), the run's total and
 * the counters, advanced from the last exact count (or from the counters alone before the first).
 */
export function advanceCounts(
  base: ExactCounts | undefined,
  now: { total: number; leased: number; retrying: number; failed: number; counterDone: number },
): StatusCounts {
  const unfinishedKnown = now.leased + now.retrying + now.failed;
  const room = Math.max(0, now.total - unfinishedKnown);
  const doneGuess = base ? base.counts.done + (now.counterDone - base.counterDone) : now.counterDone;
  const done = Math.min(room, Math.max(0, doneGuess));
  return { pending: room - done, leased: now.leased, retrying: now.retrying, failed: now.failed, done };
}

/** Exact counts from the index counts of the four unfinished statuses (done = the rest). */
export function exactCounts(total: number, c: Omit<StatusCounts, 'done'>): StatusCounts {
  return { ...c, done: Math.max(0, total - c.pending - c.leased - c.retrying - c.failed) };
}

/** A paused or cancelled run is not moving: it has no ETA (the snapshot's is null). */
export function runHasEta(runState: string): boolean {
  return runState !== 'paused' && runState !== 'cancelled';
}

/** The ETA to show for a run; a paused or cancelled run says why it has none (`short`: one word). */
export function formatEta(runState: string, seconds: number | null, opts: { short?: boolean } = {}): string {
  if (runState === 'paused') return opts.short ? 'paused' : 'paused (convoy resume --run to go on)';
  if (runState === 'cancelled') return opts.short ? 'cancelled' : 'none (cancelled)';
  return formatDuration(seconds);
}

export function formatDuration(seconds: number | null): string {
  if (seconds === null) return 'unknown';
  if (seconds <= 0) return 'done';
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : `${m}m${String(s).padStart(2, '0')}s`;
}

export function formatBytes(bytes: number): string {
  if (bytes >= 1024 ** 4) return `${(bytes / 1024 ** 4).toFixed(2)} TiB`;
  if (bytes >= 1024 ** 3) return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
  if (bytes >= MIB) return `${(bytes / MIB).toFixed(1)} MiB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${bytes} B`;
}

export function percent(n: number, total: number): string {
  return total ? ((100 * n) / total).toFixed(1) : '0.0';
}
