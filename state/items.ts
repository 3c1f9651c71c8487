/**
 * The item state machine. Every transition is ONE conditional write that checks the current
 * status and, for a leased item, the lease owner, so two workers can never both move an item.
 * Losing a condition is a typed result, never a silent overwrite.
 *
 *             claim                 complete
 *   pending ─────────▶ leased ───────────────▶ done
 *      ▲  ▲             │  │ ▲
 *      │  │   release   │  │ │ claim (lease expired: takeover by another worker)
 *      │  └─────────────┘  │ └──────────┐
 *      │                   │ fail        │
 *      │ requeue           ├──────────▶ retrying ──claim──▶ leased
 *      │                   │ (retryable, attempts < max)
 *   failed ◀───────────────┘
 *            (permanent, or attempts exhausted)
 *
 * Timeline of a lease: claim sets leaseExpiresAtMs = now + leaseMs and attempts + 1; the
 * worker's LeaseKeeper renews it every leaseMs/3; if the worker dies, the lease runs out and the
 * next claim (from the SQS redelivery or a reconcile) takes the item over. A worker checks its
 * lease is still valid before each side effect that matters and aborts the item if it is lost.
 */
import { GetCommand, paginateQuery, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { batchGetAll, batchWriteAll } from './batch.js';
import { isConditionFailure } from './conditions.js';
import { BY_STATUS_INDEX, statusKey, statusKeysFor } from './schema.js';
import { nowOf, type TableStore } from './store.js';

export const ItemStatus = {
  pending: 'pending',
  leased: 'leased',
  retrying: 'retrying',
  done: 'done',
  failed: 'failed',
} as const;
export type ItemStatus = (typeof ItemStatus)[keyof typeof ItemStatus];

export interface ItemError {
  errorClass: string;
  message: string;
  retryable: boolean;
}

export interface ItemMetrics {
  bytes: number;
  objects: number;
  durationMs: number;
  [extra: string]: number;
}

export interface HistoryEntry {
  atMs: number;
  event: 'claimed' | 'completed' | 'retry' | 'failed' | 'released' | 'requeued';
  worker?: string;
  errorClass?: string;
}

export interface ItemRow {
  runId: string;
  itemId: string;
  kind: string;
  /** customer, space, bucket pair or table: what the item belongs to, for views and group steps */
  group: string;
  status: ItemStatus;
  attempts: number;
  spec: Record<string, unknown>;
  parentId?: string;
  leaseOwner?: string;
  leaseExpiresAtMs?: number;
  lastError?: ItemError;
  metrics?: ItemMetrics;
  /** a resumable item's progress (e.g. a Scan segment's last evaluated key) */
  checkpoint?: unknown;
  worker?: string;
  createdAtMs: number;
  updatedAtMs: number;
  startedAtMs?: number;
  finishedAtMs?: number;
  nextAttemptAtMs?: number;
  history?: HistoryEntry[];
}

export interface NewItem {
  itemId: string;
  kind: string;
  group: string;
  spec: Record<string, unknown>;
  parentId?: string;
}

export type ItemStore = TableStore;

export function newItemRow(runId: string, item: NewItem, nowMs: number): ItemRow & { statusKey: string } {
  return {
    runId,
    itemId: item.itemId,
    kind: item.kind,
    group: item.group,
    spec: item.spec,
    parentId: item.parentId,
    status: 'pending',
    statusKey: statusKey(runId, 'pending', item.itemId),
    attempts: 0,
    createdAtMs: nowMs,
    updatedAtMs: nowMs,
  };
}

/**
 * Write item rows with BatchWriteItem (25 a call), retrying UnprocessedItems with backoff until
 * every row is written: a loader that drops UnprocessedItems loses data silently.
 * BatchWriteItem cannot be conditional, so callers that may be re-planning pass `skipExisting`:
 * rows that already exist are read first (BatchGetItem) and left untouched.
 * An id given twice is written once (the first wins): BatchWriteItem rejects a whole batch that
 * names one key twice. Returns the items that were written (new).
 */
export async function putItems(
  s: ItemStore,
  runId: string,
  items: NewItem[],
  opts: { skipExisting: boolean },
): Promise<NewItem[]> {
  const ids = new Set<string>();
  let toWrite = items.filter((i) => !ids.has(i.itemId) && ids.add(i.itemId));
  if (opts.skipExisting && toWrite.length) {
    const existing = await existingItemIds(s, runId, [...ids]);
    toWrite = toWrite.filter((i) => !existing.has(i.itemId));
  }
  const now = nowOf(s);
  await batchWriteAll(
    s.ddb,
    s.table,
    toWrite.map((item) => ({ PutRequest: { Item: newItemRow(runId, item, now) } })),
  );
  return toWrite;
}

/** `itemIds` are distinct (putItems de-duplicates them first). */
async function existingItemIds(s: ItemStore, runId: string, itemIds: string[]): Promise<Set<string>> {
  const found = new Set<string>();
  const keys = itemIds.map((itemId) => ({ runId, itemId }));
  const onRows = (rows: Record<string, unknown>[]) => {
    for (const row of rows) found.add(row.itemId as string);
  };
  await batchGetAll(s.ddb, s.table, keys, onRows, { projection: 'itemId' });
  return found;
}

export async function getItem(s: ItemStore, runId: string, itemId: string): Promise<ItemRow | undefined> {
  const out = await s.ddb.send(new GetCommand({ TableName: s.table, Key: { runId, itemId }, ConsistentRead: true }));
  return out.Item as ItemRow | undefined;
}

export type ClaimResult =
  | { outcome: 'claimed'; item: ItemRow }
  | { outcome: 'done'; item: ItemRow }
  | { outcome: 'failed'; item: ItemRow }
  /** not claimable before `leaseExpiresAtMs`: a live lease, or a retry whose backoff has not run out */
  | { outcome: 'held'; item: ItemRow; leaseExpiresAtMs: number }
  | { outcome: 'missing' };

function historyUpdate(entry: HistoryEntry) {
  return {
    expr: 'history = list_append(if_not_exists(history, :emptyList), :h)',
    values: { ':emptyList': [], ':h': [entry] },
  };
}

/**
 * Claim an item: pending, retrying once its backoff is over, or leased with an expired lease
 * (takeover after a crash). attempts + 1. On a lost condition the row is read back (dynalite
 * cannot return it with the failure) to say why. A duplicate message of an item in backoff is
 * `held` until `nextAttemptAtMs`, so duplicates cannot cut a retry's backoff short.
 */
export async function claimItem(
  s: ItemStore,
  ref: { runId: string; itemId: string },
  owner: string,
  leaseMs: number,
): Promise<ClaimResult> {
  const now = nowOf(s);
  const h = historyUpdate({ atMs: now, event: 'claimed', worker: owner });
  try {
    const out = await s.ddb.send(
      new UpdateCommand({
        TableName: s.table,
        Key: { runId: ref.runId, itemId: ref.itemId },
        ConditionExpression:
          'attribute_exists(itemId) AND (#st = :pending OR (#st = :retrying AND (attribute_not_exists(nextAttemptAtMs) OR nextAttemptAtMs <= :now)) ' +
          'OR (#st = :leased AND leaseExpiresAtMs < :now))',
        UpdateExpression:
          'SET #st = :leased, statusKey = :sk, leaseOwner = :owner, leaseExpiresAtMs = :exp, worker = :owner, ' +
          'attempts = if_not_exists(attempts, :zero) + :one, updatedAtMs = :now, startedAtMs = :now, ' +
          h.expr +
          ' REMOVE nextAttemptAtMs',
        ExpressionAttributeNames: { '#st': 'status' },
        ExpressionAttributeValues: {
          ':pending': 'pending',
          ':retrying': 'retrying',
          ':leased': 'leased',
          ':sk': statusKey(ref.runId, 'leased', ref.itemId),
          ':owner': owner,
          ':exp': now + leaseMs,
          ':now': now,
          ':zero': 0,
          ':one': 1,
          ...h.values,
        },
        ReturnValues: 'ALL_NEW',
      }),
    );
    return { outcome: 'claimed', item: out.Attributes as ItemRow };
  } catch (err) {
    if (!isConditionFailure(err)) throw err;
  }
  const item = await getItem(s, ref.runId, ref.itemId);
  if (!item) return { outcome: 'missing' };
  if (item.status === 'done') return { outcome: 'done', item };
  if (item.status === 'failed') return { outcome: 'failed', item };
  if (item.status === 'retrying') return { outcome: 'held', item, leaseExpiresAtMs: item.nextAttemptAtMs ?? now };
  return { outcome: 'held', item, leaseExpiresAtMs: item.leaseExpiresAtMs ?? now };
}

export type OwnedResult = 'ok' | 'lease-lost';

async function ownedUpdate(
  s: ItemStore,
  ref: { runId: string; itemId: string },
  owner: string,
  update: string,
  values: Record<string, unknown>,
  names: Record<string, string> = {},
): Promise<OwnedResult> {
  try {
    await s.ddb.send(
      new UpdateCommand({
        TableName: s.table,
        Key: { runId: ref.runId, itemId: ref.itemId },
        ConditionExpression: '#st = :leased AND leaseOwner = :owner',
        UpdateExpression: update,
        ExpressionAttributeNames: { '#st': 'status', ...names },
        ExpressionAttributeValues: { ':leased': 'leased', ':owner': owner, ...values },
      }),
    );
    return 'ok';
  } catch (err) {
    if (isConditionFailure(err)) return 'lease-lost';
    throw err;
  }
}

/** Extend the lease; only the owner of a live lease may. */
export async function renewLease(
  s: ItemStore,
  ref: { runId: string; itemId: string },
  owner: string,
  leaseMs: number,
): Promise<OwnedResult> {
  const now = nowOf(s);
  return ownedUpdate(s, ref, owner, 'SET leaseExpiresAtMs = :exp, updatedAtMs = :now', {
    ':exp': now + leaseMs,
    ':now': now,
  });
}

/** Save a resumable item's progress (e.g. a Scan segment's LastEvaluatedKey). */
export async function saveCheckpoint(
  s: ItemStore,
  ref: { runId: string; itemId: string },
  owner: string,
  checkpoint: unknown,
  partialMetrics?: Partial<ItemMetrics>,
): Promise<OwnedResult> {
  return ownedUpdate(s, ref, owner, 'SET checkpoint = :cp, partialMetrics = :pm, updatedAtMs = :now', {
    ':cp': checkpoint,
    ':pm': partialMetrics ?? {},
    ':now': nowOf(s),
  });
}

export async function completeItem(
  s: ItemStore,
  ref: { runId: string; itemId: string },
  owner: string,
  metrics: ItemMetrics,
): Promise<OwnedResult> {
  const now = nowOf(s);
  const h = historyUpdate({ atMs: now, event: 'completed', worker: owner });
  return ownedUpdate(
    s,
    ref,
    owner,
    `SET #st = :done, #metrics = :m, finishedAtMs = :now, updatedAtMs = :now, ${h.expr} REMOVE statusKey, leaseOwner, leaseExpiresAtMs`,
    { ':done': 'done', ':m': metrics, ':now': now, ...h.values },
    { '#metrics': 'metrics' },
  );
}

/**
 * Record a failed attempt: `retrying` (the message comes back after `nextAttemptAtMs`) or
 * `failed` (permanent, or out of attempts).
 */
export async function failItem(
  s: ItemStore,
  ref: { runId: string; itemId: string },
  owner: string,
  error: ItemError,
  next: { retry: true; nextAttemptAtMs: number } | { retry: false },
): Promise<OwnedResult> {
  const now = nowOf(s);
  const status: ItemStatus = next.retry ? 'retrying' : 'failed';
  const h = historyUpdate({
    atMs: now,
    event: next.retry ? 'retry' : 'failed',
    worker: owner,
    errorClass: error.errorClass,
  });
  return ownedUpdate(
    s,
    ref,
    owner,
    `SET #st = :status, statusKey = :sk, lastError = :err, updatedAtMs = :now, nextAttemptAtMs = :next, ${h.expr}` +
      (next.retry
        ? ' REMOVE leaseOwner, leaseExpiresAtMs'
        : ', finishedAtMs = :now REMOVE leaseOwner, leaseExpiresAtMs'),
    {
      ':status': status,
      ':sk': statusKey(ref.runId, status, ref.itemId),
      ':err': error,
      ':now': now,
      ':next': next.retry ? next.nextAttemptAtMs : now,
      ...h.values,
    },
  );
}

/** Give an item back unworked (graceful shutdown): pending again, and the attempt not counted. */
export async function releaseItem(
  s: ItemStore,
  ref: { runId: string; itemId: string },
  owner: string,
): Promise<OwnedResult> {
  const now = nowOf(s);
  const h = historyUpdate({ atMs: now, event: 'released', worker: owner });
  return ownedUpdate(
    s,
    ref,
    owner,
    `SET #st = :pending, statusKey = :sk, attempts = attempts - :one, updatedAtMs = :now, ${h.expr} REMOVE leaseOwner, leaseExpiresAtMs`,
    { ':pending': 'pending', ':sk': statusKey(ref.runId, 'pending', ref.itemId), ':one': 1, ':now': now, ...h.values },
  );
}

/** failed -> pending with a fresh attempt budget; the last error stays for the record. */
export async function requeueItem(s: ItemStore, ref: { runId: string; itemId: string }): Promise<'ok' | 'not-failed'> {
  const now = nowOf(s);
  const h = historyUpdate({ atMs: now, event: 'requeued' });
  try {
    await s.ddb.send(
      new UpdateCommand({
        TableName: s.table,
        Key: { runId: ref.runId, itemId: ref.itemId },
        ConditionExpression: '#st = :failed',
        UpdateExpression: `SET #st = :pending, statusKey = :sk, attempts = :zero, updatedAtMs = :now, ${h.expr} REMOVE finishedAtMs`,
        ExpressionAttributeNames: { '#st': 'status' },
        ExpressionAttributeValues: {
          ':failed': 'failed',
          ':pending': 'pending',
          ':sk': statusKey(ref.runId, 'pending', ref.itemId),
          ':zero': 0,
          ':now': now,
          ...h.values,
        },
      }),
    );
    return 'ok';
  } catch (err) {
    if (isConditionFailure(err)) return 'not-failed';
    throw err;
  }
}

/**
 * Items of a run in one status, through the sparse status index, page by page (never the whole
 * set in memory). The index is eventually consistent: callers re-check with a conditional write.
 */
export async function* itemsByStatus(
  s: ItemStore,
  runId: string,
  status: ItemStatus,
  opts: { pageSize?: number } = {},
): AsyncGenerator<ItemRow[]> {
  for (const key of statusKeysFor(runId, status)) {
    for await (const out of paginateQuery(
      { client: s.ddb },
      {
        TableName: s.table,
        IndexName: BY_STATUS_INDEX,
        KeyConditionExpression: 'statusKey = :k',
        ExpressionAttributeValues: { ':k': key },
        Limit: opts.pageSize ?? 500,
      },
    )) {
      if (out.Items?.length) yield out.Items as ItemRow[];
    }
  }
}

/** Count a run's items in one status without reading them (Select COUNT on the status index). */
export async function countByStatus(s: ItemStore, runId: string, status: ItemStatus): Promise<number> {
  const counts = await Promise.all(
    statusKeysFor(runId, status).map(async (key) => {
      let n = 0;
      for await (const out of paginateQuery(
        { client: s.ddb },
        {
          TableName: s.table,
          IndexName: BY_STATUS_INDEX,
          KeyConditionExpression: 'statusKey = :k',
          ExpressionAttributeValues: { ':k': key },
          Select: 'COUNT',
        },
      )) {
        n += out.Count ?? 0;
      }
      return n;
    }),
  );
  return counts.reduce((a, b) => a + b, 0);
}

/**
 * Whether any item of the run is still to be done (pending, leased or retrying), read from the
 * items themselves with consistent reads: exact where the status index is not (index queries are
 * separate reads, and eventually consistent on AWS, so an item moving between two statuses can be
 * missed by both). Stops at the first such item; reads the whole run only when there is none, so
 * callers use it once, to confirm a run is finished.
 */
export async function anyActiveItem(s: ItemStore, runId: string): Promise<boolean> {
  for await (const out of paginateQuery(
    { client: s.ddb },
    {
      TableName: s.table,
      KeyConditionExpression: 'runId = :r',
      FilterExpression: '#st IN (:pending, :leased, :retrying)',
      ProjectionExpression: 'itemId',
      ExpressionAttributeNames: { '#st': 'status' },
      ExpressionAttributeValues: { ':r': runId, ':pending': 'pending', ':leased': 'leased', ':retrying': 'retrying' },
      ConsistentRead: true,
    },
  )) {
    if (out.Items?.length) return true;
  }
  return false;
}

/** All items of a run in key order, paged (reports and verify; not for screens). */
export async function* itemsOfRun(
  s: ItemStore,
  runId: string,
  opts: { pageSize?: number } = {},
): AsyncGenerator<ItemRow[]> {
  for await (const out of paginateQuery(
    { client: s.ddb },
    {
      TableName: s.table,
      KeyConditionExpression: 'runId = :r',
      ExpressionAttributeValues: { ':r': runId },
      Limit: opts.pageSize ?? 500,
    },
  )) {
    if (out.Items?.length) yield out.Items as ItemRow[];
  }
}
