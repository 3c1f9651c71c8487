import { describe, expect, it } from 'vitest';
import {
  DEFAULT_RETRY_POLICY,
  decideAfterFailure,
  retryPolicyOf,
  retryPolicySchema,
  type RetryPolicy,
} from '../../shared/retry-policy.js';

const policy = (maxAttempts: number, backoffBaseMs = 100, backoffCapMs = 1_000): RetryPolicy => ({
  maxAttempts,
  backoffBaseMs,
  backoffCapMs,
});
const decide = (retryable: boolean, attemptsMade: number, maxAttempts: number) =>
  decideAfterFailure(policy(maxAttempts), { retryable, attemptsMade }, () => 0.5).action;

describe('decideAfterFailure', () => {
  it('retries a retryable failure while attempts remain, then sends it to the DLQ', () => {
    expect(decide(true, 1, 3)).toBe('retry');
    expect(decide(true, 2, 3)).toBe('retry');
    expect(decide(true, 3, 3)).toBe('dlq');
    expect(decide(true, 4, 3)).toBe('dlq');
  });
  it('never retries a permanent failure: its message is dropped, not sent to the DLQ', () => {
    expect(decide(false, 1, 5)).toBe('drop');
    expect(decide(false, 5, 5)).toBe('drop');
  });
  it('maxAttempts 1 means no retry at all', () => {
    expect(decide(true, 1, 1)).toBe('dlq');
  });
  it('the delay is full jitter below base * 2^(attempt-1), capped', () => {
    const delay = (attemptsMade: number, random: number) => {
      const d = decideAfterFailure(policy(10, 100, 1_000), { retryable: true, attemptsMade }, () => random);
      return d.action === 'retry' ? d.delayMs : -1;
    };
    expect(delay(1, 0.999999)).toBe(99);
    expect(delay(2, 0.999999)).toBe(199);
    expect(delay(3, 0.5)).toBe(200);
    expect(delay(9, 0.999999)).toBe(999);
    expect(delay(1, 0)).toBe(0);
  });
});

describe('the policy stored on a run', () => {
  it('defaults: 5 attempts, 2 s base, 5 min cap; rows planned before policies get them', () => {
    expect(DEFAULT_RETRY_POLICY).toEqual({ maxAttempts: 5, backoffBaseMs: 2_000, backoffCapMs: 300_000 });
    expect(retryPolicyOf({})).toEqual(DEFAULT_RETRY_POLICY);
    expect(retryPolicyOf({ retry: policy(2) })).toEqual(policy(2));
  });
  it('refuses what SQS or sense cannot do', () => {
    expect(retryPolicySchema.safeParse({ maxAttempts: 0 }).success).toBe(false);
    expect(retryPolicySchema.safeParse({ backoffCapMs: 13 * 3_600_000 }).success).toBe(false);
    expect(retryPolicySchema.safeParse({ maxAttemps: 3 }).success).toBe(false);
  });
});
