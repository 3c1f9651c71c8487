/**
 * The sparse status index (GSI `byStatus`, state/schema.ts) finds candidates; the base table
 * decides. On AWS a global secondary index is updated asynchronously after each write to the
 * table (usually within a second, longer when the index is throttled) and a Query on it cannot ask
 * for a consistent read: a row read from the index may carry a status, a lease expiry or an error
 * class that are no longer true. So every row read from the index here is re-read from the base
 * table with consistent BatchGetItem calls before anyone acts on it or counts it, and a row whose
 * status has moved is dropped from the status it was found under (or, for counts, counted under
 * the status it really has).
 *
 * What a re-read cannot repair: an item whose new index entry has not appeared yet is missing
 * from that one read (requeue misses an item that failed within the index's lag; the next
 * requeue takes it). Run completion, which must never miss an open item, confirms with
 * `anyActiveItem` (consistent reads of the run's rows) before it finishes a run.
 * test/state/gsi-lag.test.ts drives the CLI through a proxy that serves index queries from a
 * copy of the table a few seconds old.
 */
import { paginateQuery } from '@aws-sdk/lib-dynamodb';
import { batchGetAll } from './batch.js';
import type { ItemRow, ItemStatus, ItemStore } from './item-row.js';
import { BY_STATUS_INDEX, statusKeysFor } from './schema.js';

/** The Query on the status index for one of a run's status keys (shard of a status). */
export function statusIndexQuery(s: ItemStore, key: string) {
  return {
    TableName: s.table,
    IndexName: BY_STATUS_INDEX,
    KeyConditionExpression: 'statusKey = :k',
    ExpressionAttributeValues: { ':k': key },
  };
}

/** Attribute names a projection may use (`status` and `group` are reserved words). */
const PROJECTION_NAMES = { '#status': 'status', '#group': 'group' };

export interface Reread {
  /** attributes to read (`#status`, `#group` for the reserved words); the whole row when absent */
  projection?: string;
}

/**
 * The current rows of these items, read from the base table with consistent reads, keeping only
 * those whose status is one of `statuses`, in the order of `itemIds` (index order). Rows that no
 * longer exist are dropped. `projection` must name `itemId` and `#status`.
 */
export async function rereadInStatus<T extends { itemId: string; status: ItemStatus }>(
  s: ItemStore,
  runId: string,
  itemIds: readonly string[],
  statuses: readonly ItemStatus[],
  opts: Reread = {},
): Promise<T[]> {
  if (!itemIds.length) return [];
  const fresh = new Map<string, T>();
  const keys = [...new Set(itemIds)].map((itemId) => ({ runId, itemId }));
  await batchGetAll(
    s.ddb,
    s.table,
    keys,
    (rows) => {
      for (const row of rows as T[]) if (statuses.includes(row.status)) fresh.set(row.itemId, row);
    },
    opts.projection ? { projection: opts.projection, names: namesUsed(opts.projection) } : {},
  );
  return itemIds.flatMap((id) => {
    const row = fresh.get(id);
    if (row) fresh.delete(id);
    return row ? [row] : [];
  });
}

function namesUsed(projection: string): Record<string, string> | undefined {
  const used = Object.entries(PROJECTION_NAMES).filter(([k]) => projection.includes(k));
  return used.length ? Object.fromEntries(used) : undefined;
}

/**
 * Item ids the index lists under one status key, page by page (only the key attributes travel).
 * Candidates only: re-read them before acting.
 */
export async function* indexedIds(
  s: ItemStore,
  key: string,
  opts: { pageSize?: number } = {},
): AsyncGenerator<string[]> {
  for await (const out of paginateQuery(
    { client: s.ddb },
    { ...statusIndexQuery(s, key), ProjectionExpression: 'itemId', Limit: opts.pageSize ?? 500 },
  )) {
    if (out.Items?.length) yield out.Items.map((r) => r.itemId as string);
  }
}

/**
 * Items of a run in one status, page by page (never the whole set in memory): candidates from the
 * index, each page re-read from the base table; only the rows still in `status` are yielded.
 * Acting on one still needs a conditional write (it can move after the re-read).
 */
export async function* itemsByStatus(
  s: ItemStore,
  runId: string,
  status: ItemStatus,
  opts: { pageSize?: number } = {},
): AsyncGenerator<ItemRow[]> {
  for (const key of statusKeysFor(runId, status)) {
    for await (const ids of indexedIds(s, key, opts)) {
      const rows = await rereadInStatus<ItemRow>(s, runId, ids, [status]);
      if (rows.length) yield rows;
    }
  }
}

/**
 * How many of a run's items are in each of `statuses` now: every item the index lists under any
 * of them is re-read and counted under the status it really has (an item the index still lists
 * under its old status, or under both while the index catches up, is counted once, where it is).
 * Costs one consistent read per listed item (O(unfinished items)), and holds their ids in memory.
 */
export async function countsByStatus<S extends ItemStatus>(
  s: ItemStore,
  runId: string,
  statuses: readonly S[],
): Promise<Record<S, number>> {
  const counts = Object.fromEntries(statuses.map((st) => [st, 0])) as Record<S, number>;
  const seen = new Set<string>();
  await Promise.all(
    statuses.flatMap((status) =>
      statusKeysFor(runId, status).map(async (key) => {
        for await (const ids of indexedIds(s, key, { pageSize: 1000 })) {
          const unseen = ids.filter((id) => !seen.has(id) && seen.add(id));
          const rows = await rereadInStatus<{ itemId: string; status: S }>(s, runId, unseen, statuses, {
            projection: 'itemId, #status',
          });
          for (const row of rows) counts[row.status]++;
        }
      }),
    ),
  );
  return counts;
}

/** How many of a run's items are in `status` now (see countsByStatus). */
export async function countByStatus(s: ItemStore, runId: string, status: ItemStatus): Promise<number> {
  return (await countsByStatus(s, runId, [status]))[status];
}

/**
 * How many of a run's items are in `status` now, counting only up to `atMost` (then stopping):
 * what a limit check needs (`--max-failed`), at a cost bounded by the limit however many items
 * are in the status. Candidates from the index are re-read like every other count here.
 */
export async function countByStatusUpTo(
  s: ItemStore,
  runId: string,
  status: ItemStatus,
  atMost: number,
): Promise<number> {
  let n = 0;
  for (const key of statusKeysFor(runId, status)) {
    for await (const ids of indexedIds(s, key, { pageSize: Math.min(1000, Math.max(1, atMost - n)) })) {
      n += (await rereadInStatus(s, runId, ids, [status], { projection: 'itemId, #status' })).length;
      if (n >= atMost) return n;
    }
  }
  return n;
}
