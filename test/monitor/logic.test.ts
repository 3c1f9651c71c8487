import { describe, expect, it } from 'vitest';
import { dashboardModel, statusLine } from '../../monitor/dashboard-model.js';
import {
  classifyStuck,
  describeFilter,
  groupByClass,
  groupMatcher,
  groupParts,
  groupPrefix,
  parseGroup,
  unknownParts,
} from '../../monitor/filters.js';
import { InputError } from '../../shared/errors.js';
import {
  advanceCounts,
  etaSeconds,
  etaWithLeaseWait,
  exactCounts,
  formatDuration,
  formatEta,
  leaseWaitOf,
  MIB,
  rateOverWindow,
  throughputSeries,
  workerState,
  type MinuteCounters,
} from '../../monitor/rates.js';
import type { RunSnapshot } from '../../monitor/snapshot.js';
import { emptyCounters } from '../../state/counters.js';
import type { ItemSummaryRow } from '../../state/views.js';

const bucket = (b: number, done: number, bytes = 0): MinuteCounters => ({
  bucket: b,
  counters: { ...emptyCounters(), done, bytes },
  byWorker: new Map(),
});

describe('rates', () => {
  it('averages over the minutes since the first activity, counting the partial current minute', () => {
    const now = 100 * 60_000 + 30_000; // half way through minute 100
    const r = rateOverWindow(
      [bucket(96, 0), bucket(97, 0), bucket(98, 60, 60 * MIB), bucket(99, 60, 60 * MIB), bucket(100, 30, 30 * MIB)],
      now,
    );
    expect(r.itemsPerMin).toBeCloseTo(150 / 2.5);
    expect(r.mibPerSec).toBeCloseTo(150 / 150);
    expect(rateOverWindow([bucket(1, 0)], now).itemsPerMin).toBe(0);
  });

  it('gives an ETA from the rate, 0 when nothing is left and null without a rate', () => {
    expect(etaSeconds(120, 60)).toBe(120);
    expect(etaSeconds(0, 0)).toBe(0);
    expect(etaSeconds(5, 0)).toBeNull();
    expect(formatDuration(3725)).toBe('1h02m');
    expect(formatDuration(65)).toBe('1m05s');
    expect(formatEta('running', 65)).toBe('1m05s');
    expect(formatEta('paused', 65)).toBe('paused (convoy resume --run to go on)');
    expect(formatEta('cancelled', null)).toBe('none (cancelled)');
  });

  it("waits for the leases of a dead worker's items before the ETA runs out", () => {
    const now = 100_000;
    const live = new Set(['alive']);
    const rows = [
      { leaseOwner: 'dead', leaseExpiresAtMs: now + 40_000, updatedAtMs: now - 20_000 }, // owner gone
      { leaseOwner: 'alive', leaseExpiresAtMs: now - 1, updatedAtMs: now - 60_000 }, // lease ran out
      { leaseOwner: 'alive', leaseExpiresAtMs: now + 10_000, updatedAtMs: now - 50_000 }, // missed its renewals
      { leaseOwner: 'alive', leaseExpiresAtMs: now + 50_000, updatedAtMs: now - 10_000 }, // healthy
    ];
    const wait = leaseWaitOf(rows, live, now);
    expect(wait).toEqual({ items: 3, seconds: 40 });
    // 7 items at 420 items/min is 1 s; 3 of them cannot start for 40 s
    expect(etaWithLeaseWait(7, 420, wait)).toBe(40 + Math.round((3 / 420) * 60));
    expect(etaWithLeaseWait(7, 420, null)).toBe(1);
    expect(etaWithLeaseWait(3, 0, { items: 3, seconds: 0 })).toBe(1);
    expect(formatEta('running', 41, { leaseWait: wait })).toBe('0m41s (waiting for 3 leases to expire, ~40s)');
    expect(formatEta('paused', null, { remaining: 0 })).toBe(
      'none: paused with every item finished (convoy resume --run completes the run)',
    );
    expect(formatEta('paused', null, { remaining: 2 })).toBe('paused (convoy resume --run to go on)');
  });

  it('scales the current minute of the series to a per-minute rate', () => {
    const s = throughputSeries([bucket(9, 60, 60 * MIB), bucket(10, 10)], 10 * 60_000 + 15_000);
    expect(s[0]).toMatchObject({ itemsPerMin: 60, mibPerSec: 1 });
    expect(s[1]!.itemsPerMin).toBeCloseTo(40);
  });

  it('marks a worker stale after the threshold unless it stopped', () => {
    expect(workerState({ state: 'running', lastBeatAtMs: 0 }, 31_000, 30_000)).toBe('stale');
    expect(workerState({ state: 'running', lastBeatAtMs: 0 }, 29_000, 30_000)).toBe('alive');
    expect(workerState({ state: 'stopped', lastBeatAtMs: 0 }, 99_000, 30_000)).toBe('stopped');
    expect(workerState({ state: 'running', lastBeatAtMs: 0 }, 601_000, 30_000, 600_000)).toBe('gone');
    expect(workerState({ state: 'draining', lastBeatAtMs: 0 }, 601_000, 30_000, 600_000)).toBe('gone');
    expect(workerState({ state: 'stopped', lastBeatAtMs: 0 }, 601_000, 30_000, 600_000)).toBe('stopped');
    expect(workerState({ state: 'draining', lastBeatAtMs: 0 }, 1_000, 30_000)).toBe('draining');
  });

  it('advances counts from the last exact count with the counters, and corrects their drift', () => {
    const exact = exactCounts(100, { pending: 50, leased: 5, retrying: 0, failed: 5 });
    expect(exact.done).toBe(40);
    // The counters had lost 3 items at the exact count (counterDone 37 while 40 were done).
    const base = { counts: exact, counterDone: 37, atMs: 0 };
    const now = advanceCounts(base, { total: 100, leased: 4, retrying: 1, failed: 6, counterDone: 57 });
    expect(now).toEqual({ done: 60, pending: 29, leased: 4, retrying: 1, failed: 6 });
    // Without a base: the counters alone, clamped to what is possible.
    expect(advanceCounts(undefined, { total: 10, leased: 0, retrying: 0, failed: 2, counterDone: 50 })).toEqual({
      done: 8,
      pending: 0,
      leased: 0,
      retrying: 0,
      failed: 2,
    });
  });
});

const row = (over: Partial<ItemSummaryRow>): ItemSummaryRow => ({
  itemId: 'i',
  group: 'c/s',
  status: 'leased',
  attempts: 1,
  updatedAtMs: 0,
  ...over,
});

describe('filters', () => {
  it('classifies stuck items', () => {
    expect(classifyStuck(row({ leaseExpiresAtMs: 900, startedAtMs: 0 }), 1_000, 10_000)).toMatchObject({
      reason: 'lease-expired',
      forMs: 100,
    });
    expect(classifyStuck(row({ leaseExpiresAtMs: 50_000, startedAtMs: 0 }), 20_000, 10_000)).toMatchObject({
      reason: 'running-long',
      forMs: 20_000,
    });
    expect(classifyStuck(row({ leaseExpiresAtMs: 50_000, startedAtMs: 15_000 }), 20_000, 10_000)).toBeUndefined();
    expect(classifyStuck(row({ status: 'retrying', nextAttemptAtMs: 0 }), 20_000, 10_000)).toMatchObject({
      reason: 'retry-overdue',
    });
    expect(classifyStuck(row({ status: 'retrying', nextAttemptAtMs: 15_000 }), 20_000, 10_000)).toBeUndefined();
  });

  it('matches groups by customer and space', () => {
    // the part names come in as input: here the uploads kind's (KindPlugin.groupParts)
    const uploads = ['customer', 'space'];
    const m = groupMatcher({ customer: 'c1' }, uploads)!;
    expect(m('c1/s1')).toBe(true);
    expect(m('c10/s1')).toBe(false);
    expect(m('c1')).toBe(true);
    const s = groupMatcher({ space: 's2' }, uploads)!;
    expect(s('c1/s2')).toBe(true);
    expect(s('c1/s22')).toBe(false);
    expect(groupMatcher({ customer: 'c1', space: 's2' }, uploads)!('c2/s2')).toBe(false);
    expect(groupMatcher({}, uploads)).toBeUndefined();
  });

  it("names a group's parts by the kind's part names, and matches a whole group or a '/'-prefix with `group`", () => {
    const parts = ['tenant', 'shard', 'day'];
    expect(parseGroup('t1/s2/2026/01/02', parts)).toEqual({ tenant: 't1', shard: 's2', day: '2026/01/02' });
    expect(parseGroup('t1', parts)).toEqual({ tenant: 't1' });
    expect(groupParts(undefined)).toEqual(['group']);
    expect(groupParts([])).toEqual(['group']);
    expect(parseGroup('minio:a->aws:b', groupParts(undefined))).toEqual({ group: 'minio:a->aws:b' });
    expect(groupMatcher({ shard: 's2' }, parts)!('t1/s2/x')).toBe(true);
    expect(groupMatcher({ shard: 's2' }, parts)!('s2')).toBe(false);
    const g = groupMatcher({ group: 't1/s2' }, parts)!;
    expect([g('t1/s2'), g('t1/s2/x'), g('t1/s22'), g('t1'), g(undefined)]).toEqual([true, true, false, false, false]);
    // a kind without parts: its one part is `group`, the same filter
    expect(groupMatcher({ group: 'a' }, ['group'])!('a')).toBe(true);
    expect(groupMatcher({ group: 'a' }, ['group'])!('ab')).toBe(false);
    // a part the kind does not name is bad input, never "matches nothing"
    expect(() => groupMatcher({ customer: 'c1' }, parts)).toThrow(InputError);
    expect(() => groupMatcher({ customer: 'c1' }, parts)).toThrow(
      /"customer" is not a group part; the parts are tenant, shard, day/,
    );
    expect(unknownParts({ customer: 'c1', tenant: 't', group: 'g', day: undefined }, parts)).toEqual(['customer']);
    // the key range the group counters are read with: the leading parts given, or `group`
    expect(groupPrefix({ tenant: 't1', shard: 's2' }, parts)).toBe('t1/s2');
    expect(groupPrefix({ shard: 's2' }, parts)).toBeUndefined();
    expect(groupPrefix({ tenant: 't1', group: 't1/s' }, parts)).toBe('t1/s');
    expect(groupPrefix({ group: 'x' }, ['group'])).toBe('x');
    expect(describeFilter({ group: 'g', shard: 's2', tenant: 't1' }, parts)).toBe('tenant t1, shard s2, group g');
  });

  it('groups a page of failures by class, biggest first', () => {
    const e = (c: string) => ({ errorClass: c, message: 'm', retryable: false });
    const g = groupByClass([
      row({ itemId: 'a', lastError: e('X') }),
      row({ itemId: 'b', lastError: e('Y') }),
      row({ itemId: 'c', lastError: e('Y') }),
    ]);
    expect(g.map((x) => [x.errorClass, x.items.length])).toEqual([
      ['Y', 2],
      ['X', 1],
    ]);
  });
});

describe('dashboard model', () => {
  it("turns a snapshot into the widgets' text", () => {
    const snap = {
      run: { runId: 'r1', kind: 'synth', state: 'running', planComplete: true },
      total: 10,
      counts: { done: 6, pending: 1, leased: 1, retrying: 0, failed: 2 },
      countsExact: true,
      countsExactAtMs: 0,
      counters: { ...emptyCounters(), bytes: 6 * MIB, objects: 6 },
      failuresByClass: { B: 1, A: 1 },
      recentFailures: [
        row({ itemId: 'x1', finishedAtMs: 0, lastError: { errorClass: 'A', message: 'boom', retryable: false } }),
      ],
      rate: { windowMinutes: 5, itemsPerMin: 6, failedPerMin: 0, objectsPerMin: 6, mibPerSec: 0.1 },
      etaSeconds: 20,
      series: [{ bucket: 1, itemsPerMin: 6, mibPerSec: 0.1 }],
      queue: { visible: 1, inFlight: 1, delayed: 0, dlqVisible: 3 },
      workers: [
        {
          workerId: 'w2',
          host: 'h',
          pid: 2,
          instance: 'i2',
          status: 'stopped',
          beatAgeMs: 1000,
          inFlight: 0,
          itemsPerMin: 0,
          mibPerSec: 0,
        },
        {
          workerId: 'w1',
          host: 'h',
          pid: 1,
          instance: 'i1',
          status: 'stale',
          beatAgeMs: 45_000,
          inFlight: 1,
          itemsPerMin: 6,
          mibPerSec: 0.1,
        },
      ],
      workerCounts: { alive: 0, stale: 1, draining: 0, stopped: 1, gone: 0 },
      progress: { done: 6, failed: 2, total: 10, donePercent: 60, failedPercent: 20 },
      remaining: 2,
      leaseWait: null,
      warnings: [],
      settings: {
        concurrency: { value: 4, source: 'tuned' },
        maxFailed: { value: '2%', source: 'planned' },
        tuneVersion: 1,
      },
      pauseAdvice: null,
      generatedAtMs: 0,
      refreshMs: 1,
    } as unknown as RunSnapshot;
    const m = dashboardModel(snap, [{ ...row({ itemId: 'stuck1' }), reason: 'lease-expired', forMs: 65_000 }]);
    // progress is done / total; the 2 failed items are shown beside it, not counted as progress
    expect(m.progressPercent).toBe(60);
    expect(m.progressLabel).toBe('done 6/10 (60.0%)  failed 2 (20.0%)  ETA 0m20s');
    expect(m.queueText).toContain('DLQ 3');
    expect(m.summaryText).toContain('done 6 (60.0%)');
    expect(m.summaryText).toContain('settings: concurrency 4 (tuned), max-failed 2% (planned) [tuned 1 time(s)]');
    expect(m.failureRows).toEqual([
      ['A', '1'],
      ['B', '1'],
    ]);
    expect(m.stuckRows).toEqual([['lease-expired', '1m05s', 'stuck1']]);
    expect(m.workerRows.map((r) => [r[0], r[7]])).toEqual([
      ['i1', 'STALE'],
      ['i2', 'STOPPED'],
    ]);
    expect(m.recentFailureLines[0]).toContain('A x1: boom');
    expect(
      statusLine({
        lastOkAtMs: 0,
        refreshMs: null,
        error: 'SERVICE_UNAVAILABLE: connect ECONNREFUSED',
        nowMs: 5,
        intervalMs: 2000,
      }),
    ).toMatch(/^ERROR SERVICE_UNAVAILABLE.*retrying every 2s/);
    expect(statusLine({ lastOkAtMs: 0, refreshMs: 12, error: null, nowMs: 5, intervalMs: 2000 })).toMatch(
      /^OK refreshed .* in 12 ms/,
    );
  });
});
