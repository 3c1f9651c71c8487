/**
 * Writing and reading a run's items in bulk: the planner's batch insert (`putItems`) and the
 * paged reads by run (reports, verify, the run-finished check); reads by status go through the
 * status index (./status-index.ts). None of it moves an item between statuses; that is ./items.ts.
 */
import { paginateQuery } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { InputError } from '../shared/errors.js';
import { itemSize, MAX_ITEM_BYTES } from '../shared/item-size.js';
import { batchGetAll, batchWriteAll } from './batch.js';
import { newItemRow, type ItemRow, type ItemStore, type NewItem } from './item-row.js';
import { nowOf } from './store.js';

/**
 * Write item rows with BatchWriteItem (25 a call), retrying UnprocessedItems with backoff until
 * every row is written: a loader that drops UnprocessedItems loses data silently.
 * BatchWriteItem cannot be conditional, so callers that may be re-planning pass `skipExisting`:
 * rows that already exist are read first (BatchGetItem) and left untouched.
 * An id given twice is written once (the first wins): BatchWriteItem rejects a whole batch that
 * names one key twice. A row too large for DynamoDB is refused (InputError, exit 2 at plan) before
 * any row is written. Returns the items that were written (new).
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
  const rows = toWrite.map((item) => newItemRow(runId, item, now));
  for (const row of rows) assertRowFits(row);
  await batchWriteAll(
    s.ddb,
    s.table,
    rows.map((row) => ({ PutRequest: { Item: row } })),
  );
  return toWrite;
}

/** DynamoDB's limit on a sort key (the item id), in UTF-8 bytes. */
export const MAX_ITEM_ID_BYTES = 1024;
/**
 * The largest new item row: DynamoDB's 400 KB item limit less what a row gathers while it is
 * worked (its history, last error and metrics), so no later transition can fail on size.
 */
export const MAX_NEW_ITEM_ROW_BYTES = 300 * 1024;

/**
 * Refuse a row DynamoDB would refuse (or that would outgrow 400 KB as it is worked) before any is
 * written: one such row fails its whole BatchWriteItem with an error that names nothing.
 */
function assertRowFits(row: ItemRow): void {
  const idBytes = Buffer.byteLength(row.itemId);
  if (idBytes > MAX_ITEM_ID_BYTES)
    throw new InputError(
      `item id "${row.itemId.slice(0, 80)}..." of run ${row.runId} is ${idBytes} bytes, over DynamoDB's ${MAX_ITEM_ID_BYTES}-byte sort key limit; the kind must make shorter ids (hash the long part)`,
    );
  const bytes = itemSize(marshall(row, { removeUndefinedValues: true, convertClassInstanceToMap: true }));
  if (bytes > MAX_NEW_ITEM_ROW_BYTES)
    throw new InputError(
      `item "${row.itemId}" of run ${row.runId} is ${bytes} bytes as a DynamoDB row, over ${MAX_NEW_ITEM_ROW_BYTES} (DynamoDB's item limit is ${MAX_ITEM_BYTES}, less room for the row's history); its spec is too large: plan smaller items`,
    );
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
