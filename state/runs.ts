/**
 * Run rows: one per migration run, holding its job kind, spec, state and planned item count.
 * The states and every transition between them are in ./run-lifecycle.ts; this module creates,
 * reads and counts. A spec too large for one row (a 100k-customer file) is stored gzipped in
 * chunk rows beside it (./run-spec.ts), so the 400 KB item limit never decides what can be planned.
 */
import { GetCommand, paginateQuery, paginateScan, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from '../shared/retry-policy.js';
import { isConditionFailure } from './conditions.js';
import { readSpec, storeSpec, type StoredSpec } from './run-spec.js';
import type { PauseReason, RunHistoryEntry, RunTuning } from './run-tuning.js';
import { metaKeys } from './schema.js';
import { nowOf, type TableStore } from './store.js';

/** The states of a run; the transitions between them are in ./run-lifecycle.ts. */
export const RunState = {
  planning: 'planning',
  running: 'running',
  paused: 'paused',
  done: 'done',
  failed: 'failed',
  cancelled: 'cancelled',
} as const;
export type RunState = (typeof RunState)[keyof typeof RunState];

export interface RunRow {
  runId: string;
  kind: string;
  spec: Record<string, unknown>;
  state: RunState;
  /** items written so far, by the planner and by items that enqueue children */
  plannedItems: number;
  planComplete: boolean;
  /** chosen at plan time, applied by every worker (shared/retry-policy.ts); absent on older rows */
  retry?: RetryPolicy;
  /** the operator's live overrides (`convoy tune`, ./run-tuning.ts); absent: as planned */
  tuning?: RunTuning;
  /** moved on by every tune (workers log when they see a new one) */
  tuneVersion?: number;
  /** set when the run paused itself (its failed items passed --max-failed); removed on resume */
  pauseReason?: PauseReason;
  /** the lifecycle's transitions and the tunes, oldest first */
  runHistory?: RunHistoryEntry[];
  createdAtMs: number;
  updatedAtMs: number;
  finishedAtMs?: number;
}

/** The meta table (run rows, counters, heartbeats). */
export type MetaStore = TableStore;

/** Create the run unless it exists. Returns the row and whether this call created it. */
export async function createRun(
  s: MetaStore,
  run: { runId: string; kind: string; spec: Record<string, unknown>; retry?: RetryPolicy },
): Promise<{ created: boolean; run: RunRow }> {
  const now = nowOf(s);
  const row: RunRow = {
    ...run,
    retry: run.retry ?? DEFAULT_RETRY_POLICY,
    state: 'planning',
    plannedItems: 0,
    planComplete: false,
    createdAtMs: now,
    updatedAtMs: now,
  };
  const stored = await storeSpec(s, run.runId, run.spec);
  try {
    await s.ddb.send(
      new PutCommand({
        TableName: s.table,
        Item: { ...metaKeys.run(run.runId), type: 'run', ...row, ...stored },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
    return { created: true, run: row };
  } catch (err) {
    if (!isConditionFailure(err)) throw err;
  }
  const existing = await getRun(s, run.runId);
  if (!existing) throw new Error(`run ${run.runId} vanished while being created`);
  return { created: false, run: existing };
}

export async function getRun(s: MetaStore, runId: string): Promise<RunRow | undefined> {
  const out = await s.ddb.send(new GetCommand({ TableName: s.table, Key: metaKeys.run(runId), ConsistentRead: true }));
  const row = out.Item as (RunRow & StoredSpec) | undefined;
  if (!row?.specRef) return row;
  return { ...row, spec: await readSpec(s, runId, row) };
}

/** Runs, newest first (a scan of run rows only; there are few runs). */
export async function listRuns(s: MetaStore): Promise<RunRow[]> {
  const rows: RunRow[] = [];
  for await (const out of paginateScan(
    { client: s.ddb },
    {
      TableName: s.table,
      FilterExpression: '#t = :run',
      ExpressionAttributeNames: { '#t': 'type' },
      ExpressionAttributeValues: { ':run': 'run' },
    },
  )) {
    rows.push(...((out.Items ?? []) as RunRow[]));
  }
  return rows.sort((a, b) => b.createdAtMs - a.createdAtMs);
}

/**
 * Count items added to the run (planner batches and fleet-expanded children): on the run row, and,
 * given the items themselves, per group (so the monitor can show pending per customer or space).
 * Only newly created items are passed in: re-planning the same run counts nothing twice.
 */
export async function addPlannedItems(
  s: MetaStore,
  runId: string,
  created: number | ReadonlyArray<{ group: string }>,
): Promise<void> {
  const n = typeof created === 'number' ? created : created.length;
  if (n === 0) return;
  if (typeof created !== 'number') {
    const perGroup = new Map<string, number>();
    for (const it of created) perGroup.set(it.group, (perGroup.get(it.group) ?? 0) + 1);
    // a page of planned items usually belongs to one group or a few (a space, a bucket pair)
    await writeGroupPlanned(s, runId, perGroup, 'add');
  }
  await s.ddb.send(
    new UpdateCommand({
      TableName: s.table,
      Key: metaKeys.run(runId),
      UpdateExpression: 'ADD plannedItems :n SET updatedAtMs = :now',
      ExpressionAttributeValues: { ':n': n, ':now': nowOf(s) },
    }),
  );
}

/**
 * Set the run's planned counts (on the run row and per group) from the item rows themselves: a
 * plan killed between a batch write and its count left them short, and a resumed plan skips rows
 * that exist. The run row's count is set on the condition that it did not move while the rows
 * were counted (a worker adding children); if it did, count again.
 */
export async function recountPlannedItems(meta: MetaStore, items: TableStore, runId: string): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    const before = (await getRun(meta, runId))?.plannedItems ?? 0;
    const perGroup = new Map<string, number>();
    let total = 0;
    for await (const page of paginateQuery(
      { client: items.ddb },
      {
        TableName: items.table,
        KeyConditionExpression: 'runId = :r',
        ExpressionAttributeValues: { ':r': runId },
        ExpressionAttributeNames: { '#g': 'group' },
        ProjectionExpression: '#g',
        ConsistentRead: true,
      },
    )) {
      for (const row of page.Items ?? []) {
        total++;
        perGroup.set(row.group as string, (perGroup.get(row.group as string) ?? 0) + 1);
      }
    }
    try {
      await meta.ddb.send(
        new UpdateCommand({
          TableName: meta.table,
          Key: metaKeys.run(runId),
          UpdateExpression: 'SET plannedItems = :n, updatedAtMs = :now',
          ConditionExpression: 'plannedItems = :before',
          ExpressionAttributeValues: { ':n': total, ':before': before, ':now': nowOf(meta) },
        }),
      );
    } catch (err) {
      if (isConditionFailure(err) && attempt < 5) continue;
      throw err;
    }
    await writeGroupPlanned(meta, runId, perGroup, 'set');
    return total;
  }
}

/** Per-group planned counts: added to (a batch of new items) or set (a recount from the rows). */
async function writeGroupPlanned(
  s: MetaStore,
  runId: string,
  perGroup: Map<string, number>,
  how: 'add' | 'set',
): Promise<void> {
  const update = how === 'add' ? 'ADD planned :n SET' : 'SET planned = :n,';
  await Promise.all(
    [...perGroup].map(([group, n]) =>
      s.ddb.send(
        new UpdateCommand({
          TableName: s.table,
          Key: metaKeys.groupPlanned(runId, group),
          UpdateExpression: `${update} #group = :g, runId = :r, updatedAtMs = :now`,
          ExpressionAttributeNames: { '#group': 'group' },
          ExpressionAttributeValues: { ':n': n, ':g': group, ':r': runId, ':now': nowOf(s) },
        }),
      ),
    ),
  );
}
