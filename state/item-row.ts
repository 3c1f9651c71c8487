/**
 * What an item row is: its statuses, the row the items table holds for each work item, the item
 * a planner hands in (`NewItem`) and the row it becomes. How a row moves from status to status is
 * the state machine in ./items.ts; writing and reading rows in bulk is ./item-bulk.ts.
 */
import { statusKey } from './schema.js';
import type { TableStore } from './store.js';

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
  /** the HTTP status of the response that failed the item, when there was one (S3, DynamoDB, a peer) */
  httpStatus?: number;
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
  /**
   * Advisory data for the item's handler that rides in its first message only, never in the row
   * (shared/work-queue.ts OutgoingItem; at most MESSAGE_HINT_MAX_CHARS, or it is left out): e.g.
   * the source listing an s3-sync range was cut from, so the range need not list it again. The
   * item must be whole without it: a re-sent message (reconcile, requeue) carries none.
   */
  hint?: string;
}

export type ItemStore = TableStore;

/**
 * Whether the claim that returned `item` is its first ever. `attempts` cannot say: a release at
 * shutdown takes its attempt back and a requeue resets the count, yet both follow work that may
 * have written. The history keeps every claim; a row written before histories counts by attempts.
 */
export function isFirstClaim(item: Pick<ItemRow, 'attempts' | 'history'>): boolean {
  if (!item.history) return item.attempts <= 1;
  return item.history.filter((h) => h.event === 'claimed').length <= 1;
}

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
