/**
 * A rate budget: a token bucket refilled at N units per second and holding at most one second
 * of them. Units are whatever the limit counts: DynamoDB write capacity (`--max-wcu`), bytes
 * (s3-sync `--bwlimit`) or objects (s3-sync `--tpslimit`). Taking more than the bucket holds
 * waits for a full bucket and leaves a debt, so the average rate holds for large units too.
 * For `--max-wcu` a batch takes its estimated WCU before it is sent; the ConsumedCapacity
 * DynamoDB reports afterwards settles the difference (refund or debt), so the rate follows what
 * the table actually charged, not our estimate.
 *
 * The clock and the sleep are injected, so the arithmetic is unit-tested without waiting.
 * The budget is per worker process; `shareOf` splits a run's budget across the live workers.
 */
import { sleepOrThrow } from '../../shared/sleep.js';

export interface CapacityBudgetOptions {
  /** units refilled per second */
  unitsPerSecond: number;
  /** bucket size in seconds of refill. @defaultValue 1 */
  burstSeconds?: number;
  /**
   * units in the bucket at the start. @defaultValue a full bucket. A fleet-wide budget starts
   * empty: every worker joining with a full bucket would let N buckets through at once.
   */
  initialUnits?: number;
  now?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export class CapacityBudget {
  private tokens: number;
  private lastMs: number;
  private rate: number;
  private readonly burstSeconds: number;
  private readonly now: () => number;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** total units waited for, for metrics */
  waitedMs = 0;

  constructor(opts: CapacityBudgetOptions) {
    if (!(opts.unitsPerSecond > 0)) throw new Error('capacity budget must be > 0 units per second');
    this.rate = opts.unitsPerSecond;
    this.burstSeconds = opts.burstSeconds ?? 1;
    this.now = opts.now ?? Date.now;
    this.sleep = opts.sleep ?? sleepOrThrow;
    this.tokens = Math.min(this.capacity, opts.initialUnits ?? this.capacity);
    this.lastMs = this.now();
  }

  get capacity(): number {
    return this.rate * this.burstSeconds;
  }

  get unitsPerSecond(): number {
    return this.rate;
  }

  /** Change the rate (e.g. when the number of workers sharing the run's budget changes). */
  setRate(unitsPerSecond: number): void {
    this.refill();
    this.rate = Math.max(0.001, unitsPerSecond);
    this.tokens = Math.min(this.tokens, this.capacity);
  }

  private refill(): void {
    const now = this.now();
    const elapsed = Math.max(0, now - this.lastMs) / 1000;
    this.lastMs = now;
    this.tokens = Math.min(this.capacity, this.tokens + elapsed * this.rate);
  }

  /** How long until `units` can be taken (0 = now). Units larger than the bucket need a full bucket. */
  delayFor(units: number): number {
    this.refill();
    const need = Math.min(units, this.capacity);
    if (this.tokens >= need) return 0;
    return Math.ceil(((need - this.tokens) / this.rate) * 1000);
  }

  /** Wait until `units` are available, then take them (the balance may go negative: debt). */
  async acquire(units: number, signal?: AbortSignal): Promise<void> {
    for (;;) {
      const wait = this.delayFor(units);
      if (wait === 0) break;
      this.waitedMs += wait;
      await this.sleep(wait, signal);
    }
    this.tokens -= units;
  }

  /** Correct an estimate with what was actually consumed (positive: more was used). */
  settle(estimated: number, consumed: number): void {
    this.refill();
    this.tokens -= consumed - estimated;
  }
}

/** A run-wide budget split evenly across `workers` live workers (at least 1 unit/s each). */
export function shareOf(totalUnitsPerSecond: number, workers: number): number {
  return Math.max(1, totalUnitsPerSecond / Math.max(1, workers));
}
