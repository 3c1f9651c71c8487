/**
 * Case (e) of bench:s3, a steady-state run: how many objects make a run of at least S seconds,
 * and the rate over the middle of a run, where neither start-up nor the tail decides it. Pure.
 *
 * The rate comes from the destination's counting proxy, which records when each object write
 * (PutObject, CopyObject, CompleteMultipartUpload) was answered: the middle 80% of those writes
 * over their span. The count comes from a calibration: each fast tool copies a small sample, the
 * fastest steady rate seen times S times a margin is the count every tool then copies.
 */

export interface SteadyRate {
  /** objects written per second over the window */
  perS: number;
  /** the window: first and last write counted (epoch ms) and how many writes it holds */
  fromMs: number;
  toMs: number;
  n: number;
}

/** The rate of the middle `fraction` of the writes at `timesMs` (at least 10 writes), per second. */
export function steadyRate(timesMs: number[], fraction = 0.8): SteadyRate | undefined {
  if (timesMs.length < 10) return undefined;
  const t = [...timesMs].sort((a, b) => a - b);
  // how many to keep, rounded the way a person counts (0.8 x 100 is 80, not 79.99...)
  const keep = Math.ceil(t.length * fraction - 1e-9);
  const skip = Math.floor((t.length - keep) / 2);
  const first = skip;
  const last = t.length - 1 - skip;
  const spanMs = t[last]! - t[first]!;
  if (spanMs <= 0) return undefined;
  return { perS: ((last - first) * 1000) / spanMs, fromMs: t[first]!, toMs: t[last]!, n: last - first + 1 };
}

/** The most objects case (e) copies: 400,000 x 16 KiB = 6.1 GiB in the emulator, twice over. */
export const MAX_STEADY_OBJECTS = 400_000;

/**
 * Objects for a run of at least `seconds` at the fastest of `ratesPerS` (objects/s), with a
 * margin for a faster run than the calibration's; at most `max`.
 */
export function steadyCaseCount(
  ratesPerS: number[],
  seconds: number,
  margin = 1.2,
  max = MAX_STEADY_OBJECTS,
): { count: number; capped: boolean } {
  const fastest = Math.max(0, ...ratesPerS.filter((r) => Number.isFinite(r)));
  if (fastest <= 0) throw new Error('calibration measured no rate: no calibration run copied anything');
  const want = Math.ceil(fastest * seconds * margin);
  return { count: Math.min(want, max), capped: want > max };
}
