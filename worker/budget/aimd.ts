/**
 * The adaptive rate decision (AIMD: additive increase, multiplicative decrease), as a pure
 * function of one window of observations and the fleet's current rate row. No I/O and no clock:
 * adaptive-rates.ts feeds it and turns its verdict into one conditional write on the row.
 *
 * Why AIMD: a destination's capacity (an S3 prefix's ~3,500 PUT/s, a table's provisioned WCU, a
 * service's rate limit) is unknown and changes, and the only signal it gives is throttling. Cutting
 * by a factor on throttling and climbing by a small step while the rate is what holds the fleet
 * back converges on the capacity from below and oscillates in a narrow band under it: with a cut
 * to 0.85 the band's average is ~0.92 of the capacity (TCP's congestion avoidance, the AWS SDK's
 * adaptive retry mode and DynamoDB's own adaptive capacity docs all take this shape).
 *
 * Fleet-wide decisions: one cut per cooldown and one raise per window for the whole fleet (the
 * conditional write on the shared row makes every worker after the first a no-op), so N workers
 * seeing the same throttling cut once, not N times.
 */

export interface AimdSettings {
  /** how long one window of observations is (ms) */
  windowMs: number;
  /** after a cut, no other cut and no raise for this long: the cut must show its effect first */
  cooldownMs: number;
  /** the rate after a cut, as a fraction of the rate before */
  decreaseFactor: number;
  /** the raise per window, as a fraction of the current rate (at least `minStep`) */
  increaseFraction: number;
  minStep: number;
  /** the fleet's rate never goes below or above these (units per second) */
  minRate: number;
  maxRate: number;
  /** a window whose throttled share of requests is at least this cuts (a lone retry does not) */
  cutAtThrottledShare: number;
  /** ... and has at least this many throttled requests */
  cutAtThrottled: number;
}

/** S3 accepts ~3,500 PUT/COPY/POST/DELETE per second per prefix: never ask one for more. */
export const S3_PUTS_PER_PREFIX = 3_500;

export const DEFAULT_AIMD: AimdSettings = {
  windowMs: 1_000,
  cooldownMs: 1_500,
  decreaseFactor: 0.85,
  increaseFraction: 0.02,
  minStep: 1,
  minRate: 1,
  maxRate: S3_PUTS_PER_PREFIX,
  cutAtThrottledShare: 0.01,
  cutAtThrottled: 2,
};

/**
 * DynamoDB destinations count write units: a table's default quota is 40,000 WCU/s (a partition
 * takes 1,000; adaptive capacity moves them where the writes go, so only the table's is a cap).
 */
export const DYNAMODB_AIMD: AimdSettings = { ...DEFAULT_AIMD, maxRate: 40_000 };

/** The settings for a destination by its kind (`s3:...`, `dynamodb:...`). */
export function aimdSettingsFor(destination: string): AimdSettings {
  return destination.startsWith('dynamodb:') ? DYNAMODB_AIMD : DEFAULT_AIMD;
}

/** What one process saw of one destination in one window. */
export interface WindowObservation {
  /** requests (or units) sent to the destination */
  sent: number;
  /** of which the destination throttled */
  throttled: number;
  /** whether the rate limit made this process wait: the rate, not the work, held it back */
  saturated: boolean;
  /** the fleet's rate the destination accepted, estimated from this process's (per second x sharers) */
  fleetRateEstimate: number;
}

/** The shared row, as last read (absent: the destination has not throttled yet, no limit). */
export interface FleetRate {
  rate: number;
  /** the rate at the last cut: where the destination last said "too much" */
  ceiling?: number;
  lastCutAtMs: number;
  lastRaiseAtMs: number;
}

export type AimdVerdict =
  | { action: 'hold' }
  | { action: 'cut'; from: number | undefined; to: number; ceiling: number }
  | { action: 'raise'; from: number; to: number };

/**
 * How far one raise goes. Below the last ceiling the rate closes half the gap per window (it was
 * fine there a moment ago: waste no capacity on the way back); at the ceiling it probes upwards
 * slowly (the capacity may have grown, and overshooting costs throttles).
 */
export function raiseStep(fleet: FleetRate, s: AimdSettings): number {
  const probe = Math.max(s.minStep, fleet.rate * s.increaseFraction);
  if (fleet.ceiling === undefined || fleet.rate >= fleet.ceiling * 0.98) return probe;
  return Math.max(probe, (fleet.ceiling - fleet.rate) / 2);
}

/**
 * How deep a cut goes: `decreaseFactor` when a few requests were throttled, deeper when many were
 * (half of them throttled: halve), never below half. A rate far over the capacity comes down in
 * one step instead of one small step per cooldown.
 */
export function cutFactor(w: WindowObservation, s: AimdSettings): number {
  const share = w.throttled / Math.max(1, w.sent);
  return Math.max(0.5, Math.min(s.decreaseFactor, 1 - share));
}

export function throttledEnough(w: WindowObservation, s: AimdSettings): boolean {
  return w.throttled >= s.cutAtThrottled && w.throttled >= s.cutAtThrottledShare * Math.max(1, w.sent);
}

/**
 * One raise per window for the fleet, with slack: workers' windows are timers that drift by a
 * few ms, and a strict "a whole window since the last raise" would skip every other window.
 */
export const raiseSpacingMs = (s: AimdSettings) => s.windowMs * 0.8;

const clamp = (rate: number, s: AimdSettings) => Math.min(s.maxRate, Math.max(s.minRate, rate));

/**
 * The verdict for one window. A destination without a row has no limit until it throttles: the
 * first cut starts from what the fleet was sending, so an unthrottled run pays nothing.
 */
export function aimdDecide(
  w: WindowObservation,
  fleet: FleetRate | undefined,
  nowMs: number,
  s: AimdSettings = DEFAULT_AIMD,
): AimdVerdict {
  const coolingDown = fleet !== undefined && nowMs - fleet.lastCutAtMs < s.cooldownMs;
  if (throttledEnough(w, s)) {
    if (coolingDown) return { action: 'hold' };
    const base = fleet?.rate ?? Math.max(s.minRate, w.fleetRateEstimate);
    return { action: 'cut', from: fleet?.rate, to: clamp(base * cutFactor(w, s), s), ceiling: base };
  }
  if (!fleet || coolingDown || w.throttled > 0 || !w.saturated) return { action: 'hold' };
  if (nowMs - fleet.lastRaiseAtMs < raiseSpacingMs(s) || fleet.rate >= s.maxRate) return { action: 'hold' };
  return { action: 'raise', from: fleet.rate, to: clamp(fleet.rate + raiseStep(fleet, s), s) };
}
