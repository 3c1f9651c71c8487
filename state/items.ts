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
 *
 * The row these transitions move (its fields and statuses) is ./item-row.ts; inserting a plan's
 * items and reading a run's items page by page is ./item-bulk.ts.
 */
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { isConditionFailure } from './conditions.js';
import type { HistoryEntry, ItemError, ItemMetrics, ItemRow, ItemStatus, ItemStore } from './item-row.js';
import { statusKey } from './schema.js';
import { nowOf } from './store.js';

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
