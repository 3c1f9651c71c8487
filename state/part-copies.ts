/**
 * Part copies: one row per large object whose server-side multipart copy is spread over several
 * items of a run (s3-sync's UploadPartCopy children). The row is what the children agree on: the
 * multipart upload they all write parts into, how many children there are, which have copied all
 * their parts, and who completes the upload. Every change is one conditional write:
 *
 *   create (absent)          copied(child c)           claim (all copied; completer absent or me)
 *   (none) ──────▶ copying ──────────────────▶ copying ───────────────────────────────▶ copying+completer
 *                    │                                                                      │ complete
 *                    │ fail (by any child, once)                                            ▼
 *                    ▼                                                                 completed
 *                  failed
 *
 * "All copied" is a counter bumped together with a set of child names, the set guarding the bump
 * (a re-delivered child is counted once). The completer is named by item id, not worker id: a
 * completer killed mid-way is re-delivered (to any worker) as the same item, which claims again
 * and finishes; any other child sees the completer taken and ends. Losing a condition is a typed
 * result, never an overwrite.
 */
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { conditionalWrite, isConditionFailure } from './conditions.js';
import { metaKeys } from './schema.js';
import { nowOf, type TableStore } from './store.js';

export type PartCopyStore = TableStore;

export interface PartCopyRef {
  runId: string;
  /** names the object within the run, e.g. `<pair>#<destination key>` */
  object: string;
}

export interface PartCopyRow {
  status: 'copying' | 'completed' | 'failed';
  uploadId: string;
  children: number;
  copiedCount: number;
  copied?: Set<string>;
  completer?: string;
  /** what the creator recorded for the completer (e.g. the parts it copied itself) */
  info?: Record<string, unknown>;
  lastError?: { errorClass: string; message: string; child?: string };
  createdAtMs: number;
  updatedAtMs: number;
}

const key = (r: PartCopyRef) => metaKeys.partCopy(r.runId, r.object);

export async function getPartCopy(s: PartCopyStore, ref: PartCopyRef): Promise<PartCopyRow | undefined> {
  const out = await s.ddb.send(new GetCommand({ TableName: s.table, Key: key(ref), ConsistentRead: true }));
  return out.Item as PartCopyRow | undefined;
}

/** Create the row; when it exists already (a re-delivered creator, a race) the existing row wins. */
export async function createPartCopy(
  s: PartCopyStore,
  ref: PartCopyRef,
  init: { uploadId: string; children: number; info?: Record<string, unknown> },
): Promise<{ created: boolean; row: PartCopyRow }> {
  const now = nowOf(s);
  const row: PartCopyRow = { status: 'copying', copiedCount: 0, createdAtMs: now, updatedAtMs: now, ...init };
  try {
    await s.ddb.send(
      new UpdateCommand({
        TableName: s.table,
        Key: key(ref),
        ConditionExpression: 'attribute_not_exists(pk)',
        UpdateExpression:
          'SET #st = :st, uploadId = :u, children = :c, copiedCount = :zero, info = :info, createdAtMs = :now, updatedAtMs = :now, #type = :type',
        ExpressionAttributeNames: { '#st': 'status', '#type': 'type' },
        ExpressionAttributeValues: {
          ':st': 'copying',
          ':u': init.uploadId,
          ':c': init.children,
          ':zero': 0,
          ':info': init.info ?? {},
          ':now': now,
          ':type': 'part-copy',
        },
      }),
    );
    return { created: true, row };
  } catch (err) {
    if (!isConditionFailure(err)) throw err;
  }
  const existing = await getPartCopy(s, ref);
  if (!existing) throw new Error(`part copy row ${ref.runId}/${ref.object} vanished`);
  return { created: false, row: existing };
}

/** Child `child` has copied all its parts: counted once however often it says so. The row after. */
export async function markChildCopied(s: PartCopyStore, ref: PartCopyRef, child: string): Promise<PartCopyRow> {
  try {
    const out = await s.ddb.send(
      new UpdateCommand({
        TableName: s.table,
        Key: key(ref),
        ConditionExpression: '#st = :copying AND NOT contains(copied, :name)',
        UpdateExpression: 'ADD copied :set, copiedCount :one SET updatedAtMs = :now',
        ExpressionAttributeNames: { '#st': 'status' },
        ExpressionAttributeValues: {
          ':copying': 'copying',
          ':name': child,
          ':set': new Set([child]),
          ':one': 1,
          ':now': nowOf(s),
        },
        ReturnValues: 'ALL_NEW',
      }),
    );
    return out.Attributes as PartCopyRow;
  } catch (err) {
    if (!isConditionFailure(err)) throw err;
  }
  const row = await getPartCopy(s, ref);
  if (!row) throw new Error(`part copy row ${ref.runId}/${ref.object} is missing`);
  return row;
}

/**
 * Take the completion: only once every child has copied, and only one item ever (the same item
 * again after a crash). 'claimed' means: complete the upload now.
 */
export async function claimCompletion(
  s: PartCopyStore,
  ref: PartCopyRef,
  itemId: string,
): Promise<'claimed' | 'not-all-copied' | 'taken' | 'completed' | 'failed'> {
  try {
    await s.ddb.send(
      new UpdateCommand({
        TableName: s.table,
        Key: key(ref),
        ConditionExpression:
          '#st = :copying AND copiedCount = children AND (attribute_not_exists(completer) OR completer = :me)',
        UpdateExpression: 'SET completer = :me, updatedAtMs = :now',
        ExpressionAttributeNames: { '#st': 'status' },
        ExpressionAttributeValues: { ':copying': 'copying', ':me': itemId, ':now': nowOf(s) },
      }),
    );
    return 'claimed';
  } catch (err) {
    if (!isConditionFailure(err)) throw err;
  }
  const row = await getPartCopy(s, ref);
  if (!row || row.status === 'failed') return 'failed';
  if (row.status === 'completed') return 'completed';
  return row.copiedCount < row.children ? 'not-all-copied' : 'taken';
}

/** The completer records the upload completed (and checked). */
export async function completePartCopy(s: PartCopyStore, ref: PartCopyRef, itemId: string): Promise<'ok' | 'lost'> {
  return transition(s, ref, '#st = :copying AND completer = :me', 'SET #st = :completed, updatedAtMs = :now', {
    ':copying': 'copying',
    ':me': itemId,
    ':completed': 'completed',
  });
}

/** A child failed for good: the object fails (once; the first failure is the one kept). */
export async function failPartCopy(
  s: PartCopyStore,
  ref: PartCopyRef,
  error: { errorClass: string; message: string; child?: string },
): Promise<'ok' | 'lost'> {
  return transition(s, ref, '#st = :copying', 'SET #st = :failed, lastError = :e, updatedAtMs = :now', {
    ':copying': 'copying',
    ':failed': 'failed',
    ':e': error,
  });
}

async function transition(
  s: PartCopyStore,
  ref: PartCopyRef,
  condition: string,
  update: string,
  values: Record<string, unknown>,
): Promise<'ok' | 'lost'> {
  return conditionalWrite(() =>
    s.ddb.send(
      new UpdateCommand({
        TableName: s.table,
        Key: key(ref),
        ConditionExpression: condition,
        UpdateExpression: update,
        ExpressionAttributeNames: { '#st': 'status' },
        ExpressionAttributeValues: { ...values, ':now': nowOf(s) },
      }),
    ),
  );
}
