/**
 * A worker process's adaptive rate control (worker/budget/adaptive-rates.ts) on the real state
 * table (dynalite): what it counts in a window decides whether the fleet's rate is cut, so no
 * throttle may be lost between windows.
 */
import { describe, expect, it } from 'vitest';
import { AdaptiveRates } from '../../worker/budget/adaptive-rates.js';
import { cutFleetRate, readFleetRates } from '../../state/fleet-rates.js';
import { type TestEnv, useFreshEnv } from '../helpers/stack.js';

let env: TestEnv;
useFreshEnv((e) => (env = e));

describe('adaptive rate control windows', () => {
  it('throttles reported while a window is being judged (its reads in flight) count in the next window, and cut', async () => {
    const dest = 'indexing-service:127.0.0.1:1';
    const run = 'adaptive-window';
    // a destination cut long ago (its cooldown over), so this process holds a budget for it and
    // judges it every window
    await cutFleetRate(env.ctx.meta, run, dest, {
      from: undefined,
      to: 8,
      ceiling: 10,
      nowMs: env.ctx.now() - 60_000,
      cooldownMs: 1_500,
    });
    const rates = new AdaptiveRates(env.ctx, run);
    rates.throttled(dest);
    await rates.tick(); // one throttle: not enough to cut; the row is read, the budget set
    expect(rates.decisions.cuts).toBe(0);
    expect(rates.rates().get(dest)?.cuts).toBe(1);

    // two throttles arrive while the next window's reads are in flight (a slow state table)
    const judging = rates.tick();
    rates.throttled(dest);
    rates.throttled(dest);
    await judging;
    expect(rates.decisions.cuts).toBe(0);

    await rates.tick(); // the window they landed in
    expect(rates.decisions.cuts).toBe(1);
    expect((await readFleetRates(env.ctx.meta, run)).get(dest)).toMatchObject({ cuts: 2 });
  });
});
