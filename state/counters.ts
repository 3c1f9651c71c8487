/**
 * Throughput counters. A worker adds to an in-memory buffer and flushes it every few seconds as
 * ADD updates to two rows it alone writes: its cumulative total for the run and its row for the
 * current minute. So no key is written by the whole fleet (no hot key), the write rate is
 * (workers x runs) / flush interval, and the monitor reads rates from a handful of minute rows.
 * Counters are for rates and progress bars; item rows stay the truth for status counts.
 *
 * Counters are not exact: a worker killed with SIGKILL loses what it had not flushed yet, and a
 * flush retried after a write that did land counts twice. A done item's row holds its metrics,
 * written by the same conditional write that completes it, so the item rows are the exact
 * account. `reconcileTotals` uses them once a run's items are all finished and the counters
 * disagree with the exact done count. Why not write the counters with the completion instead:
 * DynamoDB's only multi-row atomic write (TransactWriteItems) is missing from the local stack
 * (dynalite), which must run the same code path as AWS, and a transaction per item
 * would contend on the worker's counter row. Why not always sum item rows: that reads every item
 * of the run, so it is done once, when the run has nothing left to do and the rows stop changing.
 */
import { paginateQuery, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { metaKeys } from './schema.js';
import type { TableStore } from './store.js';

/** `skipped`/`skippedBytes`: objects found already in place (an item redone after a crash skips what the first attempt copied) */
export const COUNTER_FIELDS = ['done', 'failed', 'retries', 'bytes', 'objects', 'skipped', 'skippedBytes'] as const;
export type CounterField = (typeof COUNTER_FIELDS)[number];
export type CounterDelta = Partial<Record<CounterField, number>>;
export type Counters = Record<CounterField, number>;

export const emptyCounters = (): Counters => ({
  done: 0,
  failed: 0,
  retries: 0,
  bytes: 0,
  objects: 0,
  skipped: 0,
  skippedBytes: 0,
});

export const minuteBucket = (ms: number) => Math.floor(ms / 60_000);

export type CounterStore = TableStore;

export class CounterBuffer {
  private pending = new Map<string, Counters>();
  /** per (run, group) deltas, keyed `<runId>\u0000<group>`, for the monitor's per-group views */
  private pendingGroups = new Map<string, Counters>();

  constructor(
    private readonly store: CounterStore,
    private readonly workerId: string,
  ) {}

  /** Buffer a delta; with `group` it is also counted in the group's row (monitor --customer/--space). */
  add(runId: string, delta: CounterDelta, group?: string): void {
    const c = this.pending.get(runId) ?? emptyCounters();
    for (const f of COUNTER_FIELDS) c[f] += delta[f] ?? 0;
    this.pending.set(runId, c);
    if (group !== undefined) {
      const key = `${runId}\u0000${group}`;
      const g = this.pendingGroups.get(key) ?? emptyCounters();
      for (const f of COUNTER_FIELDS) g[f] += delta[f] ?? 0;
      this.pendingGroups.set(key, g);
    }
  }

  /** Write everything buffered; on failure the deltas are put back for the next flush. */
  async flush(): Promise<void> {
    const batch = this.pending;
    this.pending = new Map();
    const now = (this.store.now ?? Date.now)();
    const bucket = minuteBucket(now);
    for (const [runId, c] of batch) {
      const fields = COUNTER_FIELDS.filter((f) => c[f] !== 0);
      if (!fields.length) continue;
      const update = `ADD ${fields.map((f) => `#${f} :${f}`).join(', ')} SET updatedAtMs = :now, workerId = :w, runId = :r`;
      const names = Object.fromEntries(fields.map((f) => [`#${f}`, f]));
      const values = {
        ...Object.fromEntries(fields.map((f) => [`:${f}`, c[f]])),
        ':now': now,
        ':w': this.workerId,
        ':r': runId,
      };
      try {
        await Promise.all([
          this.store.ddb.send(
            new UpdateCommand({
              TableName: this.store.table,
              Key: metaKeys.counterTotal(runId, this.workerId),
              UpdateExpression: update,
              ExpressionAttributeNames: names,
              ExpressionAttributeValues: values,
            }),
          ),
          this.store.ddb.send(
            new UpdateCommand({
              TableName: this.store.table,
              Key: metaKeys.counterMinute(runId, bucket, this.workerId),
              UpdateExpression: update + ', #bucket = :b',
              ExpressionAttributeNames: { ...names, '#bucket': 'bucket' },
              ExpressionAttributeValues: { ...values, ':b': bucket },
            }),
          ),
        ]);
      } catch (err) {
        // Put the deltas back; a double count is possible only if one of the two writes landed.
        this.add(runId, c);
        throw err;
      }
    }
    await this.flushGroups(now);
  }

  /** One ADD per (run, group) touched since the last flush, to a row this worker alone writes. */
  private async flushGroups(now: number): Promise<void> {
    const batch = this.pendingGroups;
    this.pendingGroups = new Map();
    for (const [key, c] of batch) {
      const [runId, group] = key.split('\u0000') as [string, string];
      const fields = COUNTER_FIELDS.filter((f) => c[f] !== 0);
      if (!fields.length) continue;
      try {
        await this.store.ddb.send(
          new UpdateCommand({
            TableName: this.store.table,
            Key: metaKeys.counterGroup(runId, group, this.workerId),
            UpdateExpression: `ADD ${fields.map((f) => `#${f} :${f}`).join(', ')} SET updatedAtMs = :now, workerId = :w, runId = :r, #group = :g`,
            ExpressionAttributeNames: { ...Object.fromEntries(fields.map((f) => [`#${f}`, f])), '#group': 'group' },
            ExpressionAttributeValues: {
              ...Object.fromEntries(fields.map((f) => [`:${f}`, c[f]])),
              ':now': now,
              ':w': this.workerId,
              ':r': runId,
              ':g': group,
            },
          }),
        );
      } catch (err) {
        const back = this.pendingGroups.get(key) ?? emptyCounters();
        for (const f of COUNTER_FIELDS) back[f] += c[f];
        this.pendingGroups.set(key, back);
        throw err;
      }
    }
  }
}

/** Per-worker cumulative totals of a run (one Query over `ctr#<runId>`, rows = workers). */
export async function readCounterTotals(
  s: CounterStore,
  runId: string,
): Promise<{ total: Counters; byWorker: Map<string, Counters> }> {
  const total = emptyCounters();
  const byWorker = new Map<string, Counters>();
  for await (const out of paginateQuery(
    { client: s.ddb },
    { TableName: s.table, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': `ctr#${runId}` } },
  )) {
    for (const row of out.Items ?? []) {
      const c = emptyCounters();
      for (const f of COUNTER_FIELDS) {
        c[f] = Number(row[f] ?? 0);
        total[f] += c[f];
      }
      byWorker.set(String(row.workerId), c);
    }
  }
  return { total, byWorker };
}

/** Counters per minute for the last `minutes` minutes (one small Query per minute, in parallel). */
export async function readCounterMinutes(
  s: CounterStore,
  runId: string,
  minutes: number,
): Promise<Array<{ bucket: number; counters: Counters; byWorker: Map<string, Counters> }>> {
  const nowBucket = minuteBucket((s.now ?? Date.now)());
  const buckets = Array.from({ length: minutes }, (_, i) => nowBucket - minutes + 1 + i);
  return Promise.all(
    buckets.map(async (bucket) => {
      const counters = emptyCounters();
      const byWorker = new Map<string, Counters>();
      const out = await s.ddb.send(
        new QueryCommand({
          TableName: s.table,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': `ctr#${runId}#${bucket}` },
        }),
      );
      for (const row of out.Items ?? []) {
        const c = emptyCounters();
        for (const f of COUNTER_FIELDS) {
          c[f] = Number(row[f] ?? 0);
          counters[f] += c[f];
        }
        byWorker.set(String(row.workerId), c);
      }
      return { bucket, counters, byWorker };
    }),
  );
}

/** The item-row fields that are also counters (what a done item's `metrics` may hold). */
const ITEM_METRIC_FIELDS = ['bytes', 'objects', 'skipped', 'skippedBytes'] as const;

/**
 * Done items of a run and the sum of their metrics, read from the item rows (projected to status
 * and metrics). Exact, and O(items of the run): for a run whose rows no longer change.
 */
export async function sumDoneItemMetrics(items: CounterStore, runId: string): Promise<Counters> {
  const c = emptyCounters();
  for await (const out of paginateQuery(
    { client: items.ddb },
    {
      TableName: items.table,
      KeyConditionExpression: 'runId = :r',
      FilterExpression: '#st = :done',
      ProjectionExpression: '#st, #m',
      ExpressionAttributeNames: { '#st': 'status', '#m': 'metrics' },
      ExpressionAttributeValues: { ':r': runId, ':done': 'done' },
    },
  )) {
    for (const row of out.Items ?? []) {
      c.done++;
      const m = (row.metrics ?? {}) as Record<string, unknown>;
      for (const f of ITEM_METRIC_FIELDS) c[f] += Number(m[f] ?? 0);
    }
  }
  return c;
}

export interface RunTotals {
  counters: Counters;
  /** `items`: done, bytes, objects and skipped were summed from the item rows (exact) */
  from: 'counters' | 'items';
}

/**
 * The run's totals: the counters while the run is moving (cheap; they lag by a flush interval),
 * the item rows' sum once every item is finished (`unfinished` = pending + leased + retrying is
 * 0) and the counters' `done` differs from the exact `done` (a killed worker's lost counts, or a
 * flush that has not happened yet). `failed` is the exact count either way.
 */
export async function reconcileTotals(
  items: CounterStore,
  runId: string,
  counters: Counters,
  exact: { done: number; failed: number; unfinished: number },
): Promise<RunTotals> {
  const base = { ...counters, failed: exact.failed };
  if (exact.unfinished > 0 || counters.done === exact.done) return { counters: base, from: 'counters' };
  const sum = await sumDoneItemMetrics(items, runId);
  return {
    counters: {
      ...base,
      done: sum.done,
      bytes: sum.bytes,
      objects: sum.objects,
      skipped: sum.skipped,
      skippedBytes: sum.skippedBytes,
    },
    from: 'items',
  };
}
