/**
 * Run rows: one per migration run, holding its job kind, spec, state and planned item count.
 *
 *   planning ──plan finished──▶ running ──all items terminal──▶ done
 *       │  ▲                      │  ▲
 *     pause└─resume── paused ◀─pause┘└─resume
 *       └──────────── cancel (from planning, running or paused) ──────────▶ cancelled
 * A crashed `convoy plan` leaves the run in `planning`; planning it again resumes (idempotent).
 * Operators pause, resume and cancel through coordinator/run-control.ts; workers drop a paused
 * run's messages (its items stay pending until a resume re-sends them) and fail a cancelled run's
 * items with RUN_CANCELLED.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, paginateScan, PutCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ConvoyError } from '../shared/errors.js';
import { metaKeys } from './schema.js';

export const RunState = { planning: 'planning', running: 'running', paused: 'paused', done: 'done', cancelled: 'cancelled' } as const;
export type RunState = (typeof RunState)[keyof typeof RunState];

/**
 * How long a worker acts on a run row it has read before reading it again: a pause, resume or
 * cancel reaches every worker within this time (one GetItem per run per worker per period).
 */
export const RUN_STATE_TTL_MS = 10_000;

export interface RunRow {
  runId: string;
  kind: string;
  spec: Record<string, unknown>;
  state: RunState;
  /** items written so far, by the planner and by items that enqueue children */
  plannedItems: number;
  planComplete: boolean;
  createdAtMs: number;
  updatedAtMs: number;
  finishedAtMs?: number;
}

export interface MetaStore {
  ddb: DynamoDBDocumentClient;
  table: string;
  now?: () => number;
}

const nowOf = (s: MetaStore) => (s.now ?? Date.now)();
const isConditionFailure = (err: unknown) =>
  err instanceof ConditionalCheckFailedException || (err as Error)?.name === 'ConditionalCheckFailedException';

/** Create the run unless it exists. Returns the row and whether this call created it. */
export async function createRun(
  s: MetaStore,
  run: { runId: string; kind: string; spec: Record<string, unknown> },
): Promise<{ created: boolean; run: RunRow }> {
  const now = nowOf(s);
  const row: RunRow = { ...run, state: 'planning', plannedItems: 0, planComplete: false, createdAtMs: now, updatedAtMs: now };
  try {
    await s.ddb.send(
      new PutCommand({
        TableName: s.table,
        Item: { ...metaKeys.run(run.runId), type: 'run', ...row },
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
  return out.Item as RunRow | undefined;
}

/** Runs, newest first (a scan of run rows only; there are few runs). */
export async function listRuns(s: MetaStore): Promise<RunRow[]> {
  const rows: RunRow[] = [];
  for await (const out of paginateScan({ client: s.ddb }, {
    TableName: s.table,
    FilterExpression: '#t = :run',
    ExpressionAttributeNames: { '#t': 'type' },
    ExpressionAttributeValues: { ':run': 'run' },
  })) {
    rows.push(...((out.Items ?? []) as RunRow[]));
  }
  return rows.sort((a, b) => b.createdAtMs - a.createdAtMs);
}

/**
 * Count items added to the run (planner batches and fleet-expanded children): on the run row, and,
 * given the items themselves, per group (so the monitor can show pending per customer or space).
 * Only newly created items are passed in: re-planning the same run counts nothing twice.
 */
export async function addPlannedItems(s: MetaStore, runId: string, created: number | ReadonlyArray<{ group: string }>): Promise<void> {
  const n = typeof created === 'number' ? created : created.length;
  if (n === 0) return;
  if (typeof created !== 'number') {
    const perGroup = new Map<string, number>();
    for (const it of created) perGroup.set(it.group, (perGroup.get(it.group) ?? 0) + 1);
    // a page of planned items usually belongs to one group or a few (a space, a bucket pair)
    await Promise.all(
      [...perGroup].map(([group, k]) =>
        s.ddb.send(
          new UpdateCommand({
            TableName: s.table,
            Key: metaKeys.groupPlanned(runId, group),
            UpdateExpression: 'ADD planned :n SET #group = :g, runId = :r, updatedAtMs = :now',
            ExpressionAttributeNames: { '#group': 'group' },
            ExpressionAttributeValues: { ':n': k, ':g': group, ':r': runId, ':now': nowOf(s) },
          }),
        ),
      ),
    );
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
 * planning -> running, once the planner has written and enqueued everything. A run paused while
 * it was planned stays paused (only its plan is marked complete); one cancelled meanwhile, or
 * already finished, is an error naming its state.
 */
export async function markPlanComplete(s: MetaStore, runId: string): Promise<void> {
  const now = nowOf(s);
  if (await updateRunIf(s, runId, 'SET planComplete = :t, #st = :running, updatedAtMs = :now', '#st IN (:planning, :running)', { ':t': true, ':running': 'running', ':planning': 'planning', ':now': now })) return;
  if (await updateRunIf(s, runId, 'SET planComplete = :t, updatedAtMs = :now', '#st = :paused', { ':t': true, ':paused': 'paused', ':now': now })) return;
  const run = await getRun(s, runId);
  const cancelled = run?.state === 'cancelled';
  throw new ConvoyError(cancelled ? 'RUN_CANCELLED' : 'RUN_STATE', `run ${runId} is ${run ? run.state : 'gone'}: its plan cannot be completed${cancelled ? ' (it was cancelled while being planned; plan a new run)' : ''}`, { retryable: false });
}

/** Conditional state change; returns false when the run was not in `from`. */
export async function transitionRun(s: MetaStore, runId: string, from: RunState[], to: RunState): Promise<boolean> {
  const values: Record<string, unknown> = { ':to': to, ':now': nowOf(s) };
  from.forEach((f, i) => (values[`:f${i}`] = f));
  const finished = to === 'done' || to === 'cancelled' ? ', finishedAtMs = :now' : '';
  return updateRunIf(s, runId, `SET #st = :to, updatedAtMs = :now${finished}`, `#st IN (${from.map((_, i) => `:f${i}`).join(', ')})`, values);
}

/** One conditional update of a run row (`#st` names its state); false when the condition fails. */
async function updateRunIf(s: MetaStore, runId: string, update: string, condition: string, values: Record<string, unknown>): Promise<boolean> {
  try {
    await s.ddb.send(
      new UpdateCommand({
        TableName: s.table,
        Key: metaKeys.run(runId),
        UpdateExpression: update,
        ConditionExpression: condition,
        ExpressionAttributeNames: { '#st': 'state' },
        ExpressionAttributeValues: values,
      }),
    );
    return true;
  } catch (err) {
    if (isConditionFailure(err)) return false;
    throw err;
  }
}

export { QueryCommand };
