/**
 * Writing and reading a run's items in bulk: the planner's batch insert (`putItems`) and the
 * paged reads by status (through the sparse status index) and by run (reports, verify, the
 * run-finished check). None of it moves an item between statuses; that is ./items.ts.
 */
import { paginateQuery } from '@aws-sdk/lib-dynamodb';
import { batchGetAll, batchWriteAll } from './batch.js';
import { newItemRow, type ItemRow, type ItemStatus, type ItemStore, type NewItem } from './item-row.js';
import { BY_STATUS_INDEX, statusKeysFor } from './schema.js';
import { nowOf } from './store.js';

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

/** The Query on the status index for one of a run's status keys (shard of a status). */
export function statusIndexQuery(s: ItemStore, key: string) {
  return {
    TableName: s.table,
    IndexName: BY_STATUS_INDEX,
    KeyConditionExpression: 'statusKey = :k',
    ExpressionAttributeValues: { ':k': key },
  };
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
      { ...statusIndexQuery(s, key), Limit: opts.pageSize ?? 500 },
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
      for await (const out of paginateQuery({ client: s.ddb }, { ...statusIndexQuery(s, key), Select: 'COUNT' })) {
        n += out.Count ?? 0;
      }
      return n;
    }),
  );
  return counts.reduce((a, b) => a + b, 0);
}

/**
 * Count a run's items in one status up to `atMost` (then stop): what a limit check needs, at a
 * cost bounded by the limit however many items are in the status.
 */
export async function countByStatusUpTo(
  s: ItemStore,
  runId: string,
  status: ItemStatus,
  atMost: number,
): Promise<number> {
  let n = 0;
  for (const key of statusKeysFor(runId, status)) {
    for await (const out of paginateQuery(
      { client: s.ddb },
      { ...statusIndexQuery(s, key), Select: 'COUNT', Limit: Math.max(1, atMost - n) },
    )) {
      n += out.Count ?? 0;
      if (n >= atMost) return n;
    }
  }
  return n;
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
