/**
 * Retry delays: exponential with a cap and "full jitter" (a uniform draw in [0, exp]), which
 * spreads a thundering herd of retries best (AWS Architecture Blog, "Exponential Backoff And
 * Jitter"). Pure: the random source is injected so tests can pin it.
 */
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

/** Whether a failed attempt may be retried, given the attempts already made (claims count). */
export function shouldRetry(retryable: boolean, attemptsMade: number, maxAttempts: number): boolean {
  return retryable && attemptsMade < maxAttempts;
}
