import { describe, expect, it } from 'vitest';
import { aimdDecide, cutFactor, DEFAULT_AIMD, raiseStep, type FleetRate } from '../../worker/budget/aimd.js';

const s = DEFAULT_AIMD;
const window = (o: Partial<Parameters<typeof aimdDecide>[0]> = {}) => ({
  sent: 100,
  throttled: 0,
  saturated: true,
  fleetRateEstimate: 100,
  ...o,
});
const row = (o: Partial<FleetRate> = {}): FleetRate => ({ rate: 100, lastCutAtMs: 0, lastRaiseAtMs: 0, ...o });
const NOW = 100_000;

describe('adaptive rate decisions (AIMD)', () => {
  it('an unthrottled destination has no limit and gets none', () => {
    expect(aimdDecide(window(), undefined, NOW)).toEqual({ action: 'hold' });
  });

  it('the first throttling cuts from what the destination accepted, and remembers it as the ceiling', () => {
    expect(aimdDecide(window({ throttled: 10, fleetRateEstimate: 200 }), undefined, NOW)).toEqual({
      action: 'cut',
      from: undefined,
      to: 200 * s.decreaseFactor,
      ceiling: 200,
    });
  });

  it('a lone throttled request, or a tiny share of them, does not cut', () => {
    expect(aimdDecide(window({ throttled: 1 }), row(), NOW).action).toBe('hold');
    expect(aimdDecide(window({ sent: 1000, throttled: 5 }), row(), NOW).action).toBe('hold');
    expect(aimdDecide(window({ sent: 1000, throttled: 10 }), row(), NOW).action).toBe('cut');
  });

  it('one cut per cooldown: a second worker seeing the same throttling holds', () => {
    const justCut = row({ lastCutAtMs: NOW - s.cooldownMs + 1 });
    expect(aimdDecide(window({ throttled: 50 }), justCut, NOW)).toEqual({ action: 'hold' });
    expect(aimdDecide(window({ throttled: 5 }), row({ lastCutAtMs: NOW - s.cooldownMs }), NOW)).toMatchObject({
      action: 'cut',
      from: 100,
      to: 85,
      ceiling: 100,
    });
  });

  it('raises only when the rate held the work back, not while cooling down, and at most once per window', () => {
    expect(aimdDecide(window({ saturated: false }), row(), NOW).action).toBe('hold');
    expect(aimdDecide(window(), row({ lastCutAtMs: NOW - 100 }), NOW).action).toBe('hold');
    expect(aimdDecide(window(), row({ lastRaiseAtMs: NOW - 100 }), NOW).action).toBe('hold');
    expect(aimdDecide(window(), row(), NOW)).toEqual({ action: 'raise', from: 100, to: 102 });
  });

  it('cuts deeper the more was throttled: 0.85 for a few, 1 - share for many, never below half', () => {
    expect(cutFactor(window({ sent: 100, throttled: 5 }), s)).toBe(0.85);
    expect(cutFactor(window({ sent: 100, throttled: 30 }), s)).toBeCloseTo(0.7);
    expect(cutFactor(window({ sent: 100, throttled: 300 }), s)).toBe(0.5);
    expect(aimdDecide(window({ sent: 100, throttled: 40 }), row(), NOW)).toMatchObject({ action: 'cut', to: 60 });
  });

  it('below the last ceiling a raise closes half the gap; at it, it probes by a small step', () => {
    expect(raiseStep(row({ rate: 60, ceiling: 100 }), s)).toBe(20);
    expect(raiseStep(row({ rate: 99, ceiling: 100 }), s)).toBeCloseTo(1.98);
    expect(raiseStep(row({ rate: 300 }), s)).toBe(6);
  });

  it('never asks one S3 prefix for more than its 3,500 PUT/s, and never goes below the floor', () => {
    expect(aimdDecide(window(), row({ rate: 3_490 }), NOW)).toMatchObject({ action: 'raise', to: 3_500 });
    expect(aimdDecide(window(), row({ rate: 3_500 }), NOW).action).toBe('hold');
    expect(aimdDecide(window({ throttled: 5, sent: 5 }), row({ rate: 1 }), NOW)).toMatchObject({ to: s.minRate });
  });
});
