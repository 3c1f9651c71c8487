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
import type { ItemStatus } from '../state/item-row.js';
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
export function rateOverWindow(
  buckets: MinuteCounters[],
  nowMs: number,
  pick: (b: MinuteCounters) => Counters = (b) => b.counters,
): Rate {
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

/** Leased items no live worker is working on: they wait for their leases to run out, then for a redelivery. */
export interface LeaseWait {
  items: number;
  /** seconds until the last of those leases runs out (0 when all have) */
  seconds: number;
}

/**
 * The ETA when some items wait for leases to expire (a worker died holding them): the rate alone
 * says "1 s" while those items cannot move before their leases run out. So the ETA is at least
 * the wait plus the time to do those items at the current rate.
 */
export function etaWithLeaseWait(remaining: number, itemsPerMin: number, wait: LeaseWait | null): number | null {
  const atRate = etaSeconds(remaining, itemsPerMin);
  if (!wait || wait.items === 0) return atRate;
  // at least 1 s: those items are not done, even when their leases have just run out
  return Math.max(1, atRate ?? 0, wait.seconds + (etaSeconds(wait.items, itemsPerMin) ?? 0));
}

/** Whether a leased item waits for its lease to expire: its owner is not alive, the lease ran out, or it missed its renewals. */
export function waitsForLease(
  row: { leaseOwner?: string; leaseExpiresAtMs?: number; updatedAtMs: number },
  liveOwners: ReadonlySet<string>,
  nowMs: number,
): boolean {
  const exp = row.leaseExpiresAtMs ?? 0;
  if (!row.leaseOwner || !liveOwners.has(row.leaseOwner) || exp <= nowMs) return true;
  // A live owner renews every lease/3 (each renewal sets updatedAtMs and pushes the expiry a lease
  // ahead), so half of the remaining lease gone without a write means the owner died before its
  // heartbeat row went stale (30 s by default).
  return nowMs - row.updatedAtMs > (exp - row.updatedAtMs) / 2;
}

/** The lease wait of a run's leased items (null when none waits). */
export function leaseWaitOf(
  rows: Array<{ leaseOwner?: string; leaseExpiresAtMs?: number; updatedAtMs: number }>,
  liveOwners: ReadonlySet<string>,
  nowMs: number,
): LeaseWait | null {
  const waiting = rows.filter((r) => waitsForLease(r, liveOwners, nowMs));
  if (!waiting.length) return null;
  const last = Math.max(...waiting.map((r) => r.leaseExpiresAtMs ?? 0));
  return { items: waiting.length, seconds: Math.max(0, Math.ceil((last - nowMs) / 1000)) };
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
    return {
      bucket: b.bucket,
      itemsPerMin: b.counters.done / minutes,
      mibPerSec: b.counters.bytes / MIB / (minutes * 60),
    };
  });
}

export type WorkerState = 'alive' | 'stale' | 'draining' | 'stopped' | 'gone';

/**
 * A worker is stale when it says it is running but has not beaten for `staleAfterMs`, and gone
 * (no longer listed, only counted) after `goneAfterMs` without a beat: a killed worker never
 * writes "stopped", and must not stay in the live view for ever.
 */
export function workerState(
  w: Pick<WorkerHeartbeat, 'state' | 'lastBeatAtMs'>,
  nowMs: number,
  staleAfterMs: number,
  goneAfterMs = Infinity,
): WorkerState {
  if (w.state === 'stopped') return 'stopped';
  if (nowMs - w.lastBeatAtMs > goneAfterMs) return 'gone';
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

/**
 * The ETA to show for a run; a paused or cancelled run says why it has none (`short`: one word).
 * With `remaining` (unfinished items), a paused run with nothing left says so; with `leaseWait`,
 * the items waiting for expired leases are named.
 */
export function formatEta(
  runState: string,
  seconds: number | null,
  opts: { short?: boolean; remaining?: number; leaseWait?: LeaseWait | null } = {},
): string {
  if (runState === 'paused' && opts.remaining === 0) {
    return opts.short
      ? 'paused-all-finished'
      : 'none: paused with every item finished (convoy resume --run completes the run)';
  }
  if (runState === 'paused') return opts.short ? 'paused' : 'paused (convoy resume --run to go on)';
  if (runState === 'cancelled') return opts.short ? 'cancelled' : 'none (cancelled)';
  const w = opts.leaseWait;
  if (w && w.items > 0 && !opts.short) {
    return `${formatDuration(seconds)} (waiting for ${w.items} lease${w.items === 1 ? '' : 's'} to expire, ~${w.seconds}s)`;
  }
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
