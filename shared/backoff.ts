/**
 * Retry delays: exponential with a cap and "full jitter" (a uniform draw in [0, exp]), which
 * spreads a thundering herd of retries best (AWS Architecture Blog, "Exponential Backoff And
 * Jitter"). The delay functions are pure: the random source is injected so tests can pin it.
 */
import { classifyError, ConvoyError } from './errors.js';
import { sleep, sleepOrThrow } from './sleep.js';

export interface BackoffOptions {
  /** Delay scale for the first retry. @defaultValue 1000 */
  baseMs: number;
  /** Largest delay ever returned. @defaultValue 300000 (5 min) */
  capMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 1_000, capMs: 300_000 };

/** Delay before retry number `attempt` (1 = first retry). */
export function fullJitterDelayMs(
  attempt: number,
  opts: BackoffOptions = DEFAULT_BACKOFF,
  random: () => number = Math.random,
): number {
  const exp = Math.min(opts.capMs, opts.baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(random() * exp);
}

export interface DrainOptions {
  /** @defaultValue base 50 ms, cap 2 s: DynamoDB hands work back under short bursts of load */
  backoff?: BackoffOptions;
  /** retries before giving up; @defaultValue unlimited (a loader that drops work loses data) */
  maxRetries?: number;
  /** the error thrown when maxRetries run out, given what is still left */
  exhausted?: (left: number) => Error;
  /** stops the waits and further sends: its reason is thrown */
  signal?: AbortSignal;
}

/**
 * Send a batch until nothing is left: `send` does one call and returns what the service handed
 * back (BatchWriteItem's UnprocessedItems, BatchGetItem's UnprocessedKeys, or the whole batch
 * after a throttling error); the rest is sent again after a capped full-jitter delay. Every
 * batch loop goes through here so they all back off the same way.
 */
export async function drainBatch<T>(
  batch: T[],
  send: (pending: T[]) => Promise<T[]>,
  opts: DrainOptions = {},
): Promise<void> {
  const backoff = opts.backoff ?? { baseMs: 50, capMs: 2_000 };
  const maxRetries = opts.maxRetries ?? Number.POSITIVE_INFINITY;
  let pending = batch;
  for (let retries = 1; pending.length; retries++) {
    if (opts.signal?.aborted) throw opts.signal.reason;
    pending = await send(pending);
    if (!pending.length) return;
    if (retries > maxRetries) {
      const left = pending.length;
      throw opts.exhausted?.(left) ?? new Error(`${left} entries still unprocessed after ${maxRetries} retries`);
    }
    await sleepOrThrow(fullJitterDelayMs(retries, backoff), opts.signal);
  }
}

export interface TransientRetryOptions {
  /** tries in all, the first included. @defaultValue 4 (the AWS SDK's default) */
  attempts?: number;
  /** @defaultValue base 100 ms, cap 2 s */
  backoff?: BackoffOptions;
  /** once aborted, the last error is thrown instead of another try */
  signal?: AbortSignal;
  /** a retryable error that must not be tried again here all the same (it is thrown at once) */
  final?: (err: ConvoyError) => boolean;
  /** after each wait, before the next try (s3-sync: a throttled copy slows its endpoint's gate) */
  onRetry?: (err: ConvoyError) => unknown;
  /**
   * throw what `fn` threw, not its classification: for clients that stand in for the SDK's,
   * whose callers read the service's error names (`ConditionalCheckFailedException`)
   */
  throwOriginal?: boolean;
}

/**
 * One request (or one object's copy) tried again on throttling and transient faults, after a
 * full-jitter delay, where a lean client of our own stands in for the SDK's retry middleware: a
 * 503 SlowDown on one object must not send a whole item back to the queue. What is retryable is
 * shared/errors.ts `classifyError`'s decision; permanent errors pass at once, classified.
 */
export async function retryTransient<T>(fn: () => Promise<T>, opts: TransientRetryOptions = {}): Promise<T> {
  const attempts = opts.attempts ?? 4;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const e = err instanceof ConvoyError ? err : classifyError(err);
      const thrown = opts.throwOriginal ? err : e;
      if (!e.retryable || attempt >= attempts || opts.signal?.aborted || opts.final?.(e)) throw thrown;
      // a lost lease or a stopping worker ends the wait, and the retries with it
      await sleep(fullJitterDelayMs(attempt, opts.backoff ?? { baseMs: 100, capMs: 2_000 }), opts.signal);
      if (opts.signal?.aborted) throw thrown;
      await opts.onRetry?.(e);
    }
  }
}
