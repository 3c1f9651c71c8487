/**
 * A run's retry policy, and the one decision made with it when an item's attempt fails.
 *
 * The policy is chosen when the run is planned (`convoy plan <kind> --max-attempts N
 * --backoff-base-ms B --backoff-cap-ms C`) and stored on the run row, so every worker of the fleet
 * applies the same one to the same run; a worker has no retry flags of its own.
 *
 *   failed attempt ─┬─ retryable, attempts left  -> retry: `retrying`, message hidden for a
 *                   │                               full-jitter delay (the visibility is the backoff)
 *                   ├─ retryable, none left      -> dlq:   `failed`, message moved to the DLQ, where
 *                   │                               `convoy requeue` finds it
 *                   └─ permanent (bad input, ...) -> drop: `failed`, message deleted (a retry
 *                                                   cannot help; requeue by class after a fix)
 *
 * What is not here: the item's lease, which is how long a worker's heartbeat vouches for an item
 * it holds (a property of the worker's liveness, not of the run), and the queue's own
 * maxReceiveCount (shared/work-queue.ts), a safety net for messages no worker could ever claim.
 */
import * as z from 'zod';
import { fullJitterDelayMs } from './backoff.js';
import { maxFailedSchema } from './failure-tolerance.js';

export const retryPolicySchema = z
  .object({
    /** Attempts (claims) before a retryable failure becomes `failed`. @defaultValue 5 */
    maxAttempts: z.number().int().min(1).max(100).default(5),
    /** Full-jitter backoff scale for the first retry. @defaultValue 2000 */
    backoffBaseMs: z.number().int().min(0).max(3_600_000).default(2_000),
    /**
     * Largest delay. SQS hides a message for at most 12 hours, so a retry's delay cannot exceed
     * it. @defaultValue 300000 (5 min)
     */
    backoffCapMs: z
      .number()
      .int()
      .min(0)
      .max(12 * 3_600_000)
      .default(300_000),
    /**
     * Failed items the run tolerates before it pauses itself (./failure-tolerance.ts); stored with
     * the policy because it is chosen with it, at plan, for every kind. `convoy tune --max-failed`
     * overrides it on the run row. @defaultValue none (no limit)
     */
    maxFailed: maxFailedSchema.optional(),
  })
  .strict();

export type RetryPolicy = z.infer<typeof retryPolicySchema>;
export type RetryPolicyInput = z.input<typeof retryPolicySchema>;

export const DEFAULT_RETRY_POLICY: RetryPolicy = retryPolicySchema.parse({});

/** What happens to an item whose attempt failed. */
export type FailureDecision = { action: 'retry'; delayMs: number } | { action: 'dlq' } | { action: 'drop' };

/**
 * The retry decision, in one place. `attemptsMade` counts claims, so it includes the attempt that
 * just failed; `random` is injected so tests can pin the jitter.
 */
export function decideAfterFailure(
  policy: RetryPolicy,
  failure: { retryable: boolean; attemptsMade: number },
  random: () => number = Math.random,
): FailureDecision {
  if (!failure.retryable) return { action: 'drop' };
  if (failure.attemptsMade >= policy.maxAttempts) return { action: 'dlq' };
  const delayMs = fullJitterDelayMs(
    failure.attemptsMade,
    { baseMs: policy.backoffBaseMs, capMs: policy.backoffCapMs },
    random,
  );
  return { action: 'retry', delayMs };
}

/** The policy of a run row; rows planned before policies were stored get the default. */
export function retryPolicyOf(run: { retry?: RetryPolicy }): RetryPolicy {
  return run.retry ?? DEFAULT_RETRY_POLICY;
}
