/**
 * Run status while workers are busy: the run is finished (running -> done) only when every item
 * really is finished, even though the per-status counts are separate queries.
 */
import { describe, expect, it } from 'vitest';
import { formatStatus, runStatus } from '../../coordinator/status.js';
import { NotFoundError, ServiceUnavailableError } from '../../shared/errors.js';
import { engineFixture, fastWorker, planScript, rowCounts, succeed } from './script-kind.js';

const fx = engineFixture();

describe('runStatus', () => {
  it('never marks a run done while its one item bounces between leased and retrying', async () => {
    // Each claim and each failed attempt moves the item between two status-index partitions: a
    // status read whose queries straddle the move sees no active item at all.
    const bounces = 8;
    await planScript(
      fx.env.ctx,
      'bounce',
      1,
      async (it, ictx) => {
        if (it.attempts < bounces) throw new ServiceUnavailableError('blip');
        return succeed(it, ictx);
      },
      { maxAttempts: 100, backoffBaseMs: 0, backoffCapMs: 0 },
    );
    const w = fastWorker(fx.env.ctx);
    fx.start(w);
    let polls = 0;
    for (;;) {
      const s = await runStatus(fx.env.ctx, 'bounce');
      polls++;
      if (s.run.state === 'done') {
        const rows = await rowCounts(fx.env.ctx, 'bounce');
        expect(rows, `run marked done after ${polls} polls`).toEqual({ done: 1 });
        break;
      }
      expect(polls).toBeLessThan(5_000);
    }
  });

  it('never marks a run done while items are still moving', async () => {
    const n = 30;
    await planScript(fx.env.ctx, 'busy', n, async (it, ictx) => {
      await new Promise((r) => setTimeout(r, Math.random() * 4)); // the workload, not a synchronisation
      if (Number(it.spec.i) === 7) throw new NotFoundError('SOURCE_OBJECT_MISSING', 'gone');
      return succeed(it, ictx);
    });
    const w = fastWorker(fx.env.ctx, { concurrency: 8 });
    fx.start(w);
    let polls = 0;
    for (;;) {
      const s = await runStatus(fx.env.ctx, 'busy');
      polls++;
      const rows = await rowCounts(fx.env.ctx, 'busy');
      const finished = (rows.done ?? 0) + (rows.failed ?? 0);
      if (s.run.state === 'done') {
        // the status said done: every row must be terminal (this read is after the decision)
        expect(finished, `run marked done after ${polls} polls with rows ${JSON.stringify(rows)}`).toBe(n);
        break;
      }
      expect(polls).toBeLessThan(2_000);
    }
    const final = await runStatus(fx.env.ctx, 'busy');
    expect(final.counts).toEqual({ pending: 0, leased: 0, retrying: 0, done: n - 1, failed: 1 });
    expect(final.failuresByClass).toEqual({ SOURCE_OBJECT_MISSING: 1 });
    const text = formatStatus(final);
    expect(text).toContain('state=done');
    expect(text).toMatch(/failed\s+1/);
    expect(text).toContain('SOURCE_OBJECT_MISSING');
  });
});
