import { describe, expect, it } from 'vitest';
import { DEFAULT_BACKOFF, drainBatch, fullJitterDelayMs } from '../../shared/backoff.js';

describe('fullJitterDelayMs', () => {
  const opts = { baseMs: 100, capMs: 1_000 };

  it('draws uniformly in [0, base * 2^(attempt-1)): the bounds are reached with the extreme draws', () => {
    expect(fullJitterDelayMs(1, opts, () => 0)).toBe(0);
    expect(fullJitterDelayMs(1, opts, () => 0.999999)).toBe(99);
    expect(fullJitterDelayMs(2, opts, () => 0.999999)).toBe(199);
    expect(fullJitterDelayMs(3, opts, () => 0.5)).toBe(200);
    expect(fullJitterDelayMs(4, opts, () => 0.999999)).toBe(799);
  });

  it('never exceeds the cap, however many attempts (no overflow to Infinity or NaN)', () => {
    for (const attempt of [5, 6, 10, 50, 1_000, 10_000]) {
      const d = fullJitterDelayMs(attempt, opts, () => 0.999999);
      expect(d, `attempt ${attempt}`).toBeLessThan(opts.capMs);
      expect(d).toBeGreaterThanOrEqual(opts.capMs - 1);
      expect(Number.isFinite(d)).toBe(true);
    }
  });

  it('attempt 0 or negative is treated as the first retry', () => {
    expect(fullJitterDelayMs(0, opts, () => 0.999999)).toBe(99);
    expect(fullJitterDelayMs(-3, opts, () => 0.999999)).toBe(99);
  });

  it('with the real random source every delay is an integer within [0, min(cap, exp))', () => {
    for (let attempt = 1; attempt <= 12; attempt++) {
      const exp = Math.min(DEFAULT_BACKOFF.capMs, DEFAULT_BACKOFF.baseMs * 2 ** (attempt - 1));
      for (let i = 0; i < 200; i++) {
        const d = fullJitterDelayMs(attempt);
        expect(Number.isInteger(d)).toBe(true);
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThan(exp);
      }
    }
  });

  it('is full jitter, not equal jitter: draws spread over the whole range', () => {
    const draws = Array.from({ length: 2_000 }, () => fullJitterDelayMs(3, opts));
    expect(Math.min(...draws)).toBeLessThan(40);
    expect(Math.max(...draws)).toBeGreaterThan(360);
  });

  it('a zero base gives no delay (tests and "retry at once")', () => {
    expect(fullJitterDelayMs(7, { baseMs: 0, capMs: 1_000 }, () => 0.9)).toBe(0);
  });
});
