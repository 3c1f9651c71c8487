/**
 * When an item's message was last re-sent by reconcile (`sentAtMs` on the item row).
 *
 * SQS cannot say whether a message for an item exists, so reconcile re-sends; without a record
 * of that, every reconcile added one more message per unfinished item (two reconciles, 16
 * messages for 8 items). `claimResend` is one conditional write per item: it succeeds only while
 * the item is still in the status reconcile read, and only if no other reconcile re-sent it
 * after `notSentSinceMs`; the caller sends only when it wins, so concurrent or repeated
 * reconciles send one message per item per grace period. It touches nothing the state machine
 * reads (status, lease, attempts, updatedAtMs), so it never races a worker's transition.
 *
 *   t0  reconcile A: sentAtMs absent      -> SET sentAtMs = t0, send
 *   t1  reconcile B: sentAtMs t0 > t1-g   -> condition fails, skip (A's message is on its way)
 *   t2  (t2 - t0 >= g, still pending)     -> SET sentAtMs = t2, send again: A's was lost
 */
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { isConditionFailure } from './conditions.js';
import type { ItemRow, ItemStatus, ItemStore } from './item-row.js';

export type SentItemRow = ItemRow & { sentAtMs?: number };

/** The last time a message for this row is known to have been sent (reconcile, or the write that sent one). */
export function lastSentAtMs(row: SentItemRow): number {
  return Math.max(row.sentAtMs ?? 0, row.status === 'pending' ? row.updatedAtMs : 0);
}

/**
 * The time field that makes an item of this status due for a re-send, checked in the write
 * itself: a leased item only once its lease expired, a retrying one once its backoff is over
 * (the row reconcile read may be older than a lease renewal; the write sees the row as it is).
 */
const DUE_FIELD: Partial<Record<ItemStatus, 'leaseExpiresAtMs' | 'nextAttemptAtMs'>> = {
  leased: 'leaseExpiresAtMs',
  retrying: 'nextAttemptAtMs',
};

/**
 * Record a re-send of `ref` at `nowMs` if it is still `status`, was not re-sent after
 * `notSentSinceMs`, and (leased, retrying) its lease expiry or next attempt is before `dueBeforeMs`.
 */
export async function claimResend(
  s: ItemStore,
  ref: { runId: string; itemId: string },
  status: ItemStatus,
  nowMs: number,
  notSentSinceMs: number,
  opts: { dueBeforeMs?: number } = {},
): Promise<'ok' | 'skip'> {
  const due = DUE_FIELD[status];
  const dueCheck = due && opts.dueBeforeMs !== undefined;
  try {
    await s.ddb.send(
      new UpdateCommand({
        TableName: s.table,
        Key: { runId: ref.runId, itemId: ref.itemId },
        ConditionExpression: `#st = :st AND (attribute_not_exists(sentAtMs) OR sentAtMs <= :since)${
          dueCheck ? ` AND (attribute_not_exists(${due}) OR ${due} < :due)` : ''
        }`,
        UpdateExpression: 'SET sentAtMs = :now',
        ExpressionAttributeNames: { '#st': 'status' },
        ExpressionAttributeValues: {
          ':st': status,
          ':since': notSentSinceMs,
          ':now': nowMs,
          ...(dueCheck ? { ':due': opts.dueBeforeMs } : {}),
        },
      }),
    );
    return 'ok';
  } catch (err) {
    if (isConditionFailure(err)) return 'skip';
    throw err;
  }
}
