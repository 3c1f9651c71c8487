/**
 * The fleet's adaptive rate rows on the real state table (dynalite): a cut or a raise is one
 * conditional write that only the first worker to ask wins, so a fleet cuts once per congestion.
 */
import { describe, expect, it } from 'vitest';
import { cutFleetRate, raiseFleetRate, readFleetRates } from '../../state/fleet-rates.js';
import { type TestEnv, useFreshEnv } from '../helpers/stack.js';

let env: TestEnv;
useFreshEnv((e) => (env = e));

describe('fleet rate rows', () => {
  it('the first cut creates the row; two workers racing to cut from the same rate: one wins', async () => {
    const meta = env.ctx.meta;
    const first = await Promise.all([
      cutFleetRate(meta, 'r1', 's3:aws/b/', {
        from: undefined,
        to: 85,
        ceiling: 100,
        nowMs: 10_000,
        cooldownMs: 1_500,
      }),
      cutFleetRate(meta, 'r1', 's3:aws/b/', { from: undefined, to: 80, ceiling: 94, nowMs: 10_000, cooldownMs: 1_500 }),
    ]);
    expect(first.filter(Boolean)).toHaveLength(1);
    const row = (await readFleetRates(meta, 'r1')).get('s3:aws/b/')!;
    expect(row.cuts).toBe(1);
    // within the cooldown no cut wins, even from the current rate
    expect(
      await cutFleetRate(meta, 'r1', 's3:aws/b/', {
        from: row.rate,
        to: 10,
        ceiling: row.rate,
        nowMs: 11_000,
        cooldownMs: 1_500,
      }),
    ).toBe(false);
    // after it, one of two racing cuts wins
    const second = await Promise.all(
      [1, 2].map(() =>
        cutFleetRate(meta, 'r1', 's3:aws/b/', {
          from: row.rate,
          to: 50,
          ceiling: row.rate,
          nowMs: 12_000,
          cooldownMs: 1_500,
        }),
      ),
    );
    expect(second.filter(Boolean)).toHaveLength(1);
    expect((await readFleetRates(meta, 'r1')).get('s3:aws/b/')).toMatchObject({ rate: 50, cuts: 2 });
  });

  it('one raise per window for the fleet; a raise from a stale rate loses', async () => {
    const meta = env.ctx.meta;
    await cutFleetRate(meta, 'r2', 'd', { from: undefined, to: 100, ceiling: 120, nowMs: 0, cooldownMs: 1_500 });
    const raced = await Promise.all(
      [1, 2, 3].map(() => raiseFleetRate(meta, 'r2', 'd', { from: 100, to: 110, nowMs: 5_000, spacingMs: 800 })),
    );
    expect(raced.filter(Boolean)).toHaveLength(1);
    expect(await raiseFleetRate(meta, 'r2', 'd', { from: 110, to: 115, nowMs: 5_500, spacingMs: 800 })).toBe(false);
    expect(await raiseFleetRate(meta, 'r2', 'd', { from: 100, to: 105, nowMs: 7_000, spacingMs: 800 })).toBe(false);
    expect(await raiseFleetRate(meta, 'r2', 'd', { from: 110, to: 115, nowMs: 7_000, spacingMs: 800 })).toBe(true);
    expect((await readFleetRates(meta, 'r2')).get('d')).toMatchObject({ rate: 115, raises: 2, ceiling: 120 });
    // other runs' rows are not read
    expect([...(await readFleetRates(meta, 'r1')).keys()]).toEqual(['s3:aws/b/']);
  });
});
