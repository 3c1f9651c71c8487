/**
 * Read-only views of a run for the monitor. None of these reads all items of a run:
 *  - failed / leased / retrying items come from the sparse `byStatus` index, so their cost grows
 *    with the size of that set (failures, items in flight), never with done or pending items;
 *  - per-minute counters are read bucket by bucket (rows = workers that flushed in that minute);
 *  - group counters are rows per (group, worker) under one partition per run.
 * Rows found through the index are re-read from the table (consistent reads) before they are
 * shown or counted (./status-index.ts): the index lags on AWS, and a view that showed a renewed
 * lease as stuck, or a requeued item as failed, would send the operator to fix what is not broken.
 */
import { paginateQuery, QueryCommand, type QueryCommandOutput } from '@aws-sdk/lib-dynamodb';
import { COUNTER_FIELDS, emptyCounters, type Counters } from './counters.js';
import { indexedIds, rereadInStatus, statusIndexQuery } from './status-index.js';
import type { ItemError, ItemStatus } from './item-row.js';
import { GROUP_PLANNED_SUFFIX, STATUS_SHARDS, statusKeysFor } from './schema.js';
import type { TableStore as Store } from './store.js';

/** The fields of an item row a monitor view shows (never the spec or the history). */
export interface ItemSummaryRow {
  itemId: string;
  group: string;
  status: ItemStatus;
  attempts: number;
  worker?: string;
  leaseOwner?: string;
  leaseExpiresAtMs?: number;
  lastError?: ItemError;
  startedAtMs?: number;
  updatedAtMs: number;
  finishedAtMs?: number;
  nextAttemptAtMs?: number;
}

/** The summary's fields, once: the projection of index reads, and the pick from a full row. */
const SUMMARY_FIELDS = [
  'itemId',
  'group',
  'status',
  'attempts',
  'worker',
  'leaseOwner',
  'leaseExpiresAtMs',
  'lastError',
  'startedAtMs',
  'updatedAtMs',
  'finishedAtMs',
  'nextAttemptAtMs',
] as const satisfies readonly (keyof ItemSummaryRow)[];

/** The summary fields as a projection for the re-read (`#group`, `#status`: reserved words). */
const SUMMARY_PROJECTION = SUMMARY_FIELDS.map((f) => (f === 'group' || f === 'status' ? `#${f}` : f)).join(', ');

/** The current summaries of index candidates still in `status`, in the candidates' order. */
function rereadSummaries(s: Store, runId: string, ids: string[], status: ItemStatus): Promise<ItemSummaryRow[]> {
  return rereadInStatus<ItemSummaryRow>(s, runId, ids, [status], { projection: SUMMARY_PROJECTION });
}

/** The summary of a full item row (what the index reads return, for a row read by key). */
export function toItemSummary(row: ItemSummaryRow): ItemSummaryRow {
  const out: Record<string, unknown> = {};
  for (const f of SUMMARY_FIELDS) if (row[f] !== undefined) out[f] = row[f];
  return out as unknown as ItemSummaryRow;
}

/** Where a paged read over the status index stopped: the shard and the key inside it. */
interface StatusCursor {
  shard: number;
  key?: Record<string, unknown>;
}

export function encodeCursor(c: StatusCursor): string {
  return Buffer.from(JSON.stringify(c)).toString('base64url');
}

export function decodeCursor(token: string | undefined): StatusCursor | undefined {
  if (!token) return undefined;
  try {
    const c = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as StatusCursor;
    if (Number.isInteger(c.shard) && c.shard >= 0 && c.shard < STATUS_SHARDS) return c;
  } catch {
    // fall through
  }
  return undefined;
}

export interface ItemPage {
  items: ItemSummaryRow[];
  /** pass back to get the next page; absent on the last page */
  nextCursor?: string;
}

/**
 * One page of a run's items in one status (index order: shard, then item id), optionally only
 * those matching `where`. Pages hold up to `limit` matches; the cursor is opaque. Rows that left
 * the status since the index saw them are dropped, so a page may hold fewer.
 */
export async function itemPageByStatus(
  s: Store,
  runId: string,
  status: ItemStatus,
  opts: { limit?: number; cursor?: string; where?: (row: ItemSummaryRow) => boolean } = {},
): Promise<ItemPage> {
  const limit = opts.limit ?? 50;
  const keys = statusKeysFor(runId, status);
  let cursor: StatusCursor | undefined = decodeCursor(opts.cursor) ?? { shard: 0 };
  const items: ItemSummaryRow[] = [];
  while (cursor && items.length < limit) {
    const out: QueryCommandOutput = await s.ddb.send(
      new QueryCommand({
        ...statusIndexQuery(s, keys[cursor.shard]!),
        ExclusiveStartKey: cursor.key,
        Limit: limit - items.length,
        ProjectionExpression: 'itemId',
      }),
    );
    const ids = (out.Items ?? []).map((r) => r.itemId as string);
    for (const row of await rereadSummaries(s, runId, ids, status)) if (!opts.where || opts.where(row)) items.push(row);
    if (out.LastEvaluatedKey) cursor = { shard: cursor.shard, key: out.LastEvaluatedKey };
    else cursor = cursor.shard + 1 < keys.length ? { shard: cursor.shard + 1 } : undefined;
  }
  return { items, nextCursor: cursor ? encodeCursor(cursor) : undefined };
}

/**
 * Every item of a run in one status, the 8 index shards read in parallel, each page handed to
 * `onPage` as it arrives (order across shards is not defined). Cost: the size of that set.
 */
export async function forEachItemSummary(
  s: Store,
  runId: string,
  status: ItemStatus,
  onPage: (rows: ItemSummaryRow[]) => void,
): Promise<void> {
  await Promise.all(
    statusKeysFor(runId, status).map(async (key) => {
      for await (const ids of indexedIds(s, key)) {
        const rows = await rereadSummaries(s, runId, ids, status);
        if (rows.length) onPage(rows);
      }
    }),
  );
}

export interface FailedSetSummary {
  byClass: Record<string, number>;
  /** the most recently failed items, newest first */
  recent: ItemSummaryRow[];
}

/**
 * Failed items of a run counted by error class, and the `recent` newest of them. Reads only the
 * failed set (projected), so the cost grows with the number of failures, not of items.
 */
export async function failedSetSummary(
  s: Store,
  runId: string,
  opts: { recent?: number } = {},
): Promise<FailedSetSummary> {
  const keep = opts.recent ?? 20;
  const byClass: Record<string, number> = {};
  let recent: ItemSummaryRow[] = [];
  await forEachItemSummary(s, runId, 'failed', (page) => {
    for (const row of page) {
      const c = row.lastError?.errorClass ?? 'UNKNOWN';
      byClass[c] = (byClass[c] ?? 0) + 1;
    }
    if (keep > 0) {
      recent = [...recent, ...page]
        .sort((a, b) => (b.finishedAtMs ?? b.updatedAtMs) - (a.finishedAtMs ?? a.updatedAtMs))
        .slice(0, keep);
    }
  });
  return { byClass, recent };
}

export interface CounterBucket {
  bucket: number;
  counters: Counters;
  byWorker: Map<string, Counters>;
}

function countersOf(row: Record<string, unknown>): Counters {
  const c = emptyCounters();
  for (const f of COUNTER_FIELDS) c[f] = Number(row[f] ?? 0);
  return c;
}

/** Counter rows of the given minute buckets (one small Query each, in parallel). */
export async function readCounterBuckets(s: Store, runId: string, buckets: number[]): Promise<CounterBucket[]> {
  return Promise.all(
    buckets.map(async (bucket) => {
      const counters = emptyCounters();
      const byWorker = new Map<string, Counters>();
      for await (const out of paginateQuery(
        { client: s.ddb },
        {
          TableName: s.table,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': `ctr#${runId}#${bucket}` },
        },
      )) {
        for (const row of out.Items ?? []) {
          const c = countersOf(row);
          for (const f of COUNTER_FIELDS) counters[f] += c[f];
          byWorker.set(String(row.workerId), c);
        }
      }
      return { bucket, counters, byWorker };
    }),
  );
}

/**
 * Cumulative counters per group (summed over workers), from the rows CounterBuffer writes when
 * given a group: pk `ctrg#<runId>`, sk `<group>#<workerId>`. With `groupPrefix` only the groups
 * starting with it are read (a key-range query: e.g. one customer's spaces).
 */
export interface GroupCounters {
  counters: Counters;
  /** items planned in the group (0 for runs planned before groups were counted) */
  planned: number;
}

export async function readGroupCounters(
  s: Store,
  runId: string,
  opts: { groupPrefix?: string } = {},
): Promise<Map<string, GroupCounters>> {
  const groups = new Map<string, GroupCounters>();
  for await (const out of paginateQuery(
    { client: s.ddb },
    {
      TableName: s.table,
      KeyConditionExpression: opts.groupPrefix ? 'pk = :pk AND begins_with(sk, :p)' : 'pk = :pk',
      ExpressionAttributeValues: { ':pk': `ctrg#${runId}`, ...(opts.groupPrefix ? { ':p': opts.groupPrefix } : {}) },
    },
  )) {
    for (const row of out.Items ?? []) {
      const group = String(row.group);
      const acc = groups.get(group) ?? { counters: emptyCounters(), planned: 0 };
      if (String(row.sk).endsWith(`#${GROUP_PLANNED_SUFFIX}`)) acc.planned += Number(row.planned ?? 0);
      else {
        const c = countersOf(row);
        for (const f of COUNTER_FIELDS) acc.counters[f] += c[f];
      }
      groups.set(group, acc);
    }
  }
  return groups;
}
