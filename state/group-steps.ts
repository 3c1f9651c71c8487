/**
 * Group steps: work done once per group (a space, a customer) rather than once per item, e.g.
 * authorizing the gateway for a space. One row per (scope, group, step) in the meta table
 * (metaKeys.groupStep), claimed by a conditional write so that among many items of a group,
 * across the whole fleet, exactly one does the step:
 *
 *            claim (row absent, or failed, or running with an expired lease)
 *   (none) ───────────▶ running ──complete──▶ done
 *                         │  ▲
 *                    fail │  │ claim (retry by anyone)
 *                         ▼  │
 *                        failed
 * A claimer that dies leaves `running` with a lease that expires; the next claim takes over.
 * Losing a condition is a typed result ('held', 'done'), never an overwrite.
 */
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { conditionalWrite, isConditionFailure } from './conditions.js';
import { metaKeys } from './schema.js';
import { nowOf, type TableStore } from './store.js';

export type GroupStepStore = TableStore;

export interface GroupStepRef {
  /** a run id, or a name for steps that outlive runs (e.g. 'uploads') */
  scope: string;
  group: string;
  step: string;
}

export interface GroupStepRow {
  status: 'running' | 'done' | 'failed';
  owner?: string;
  leaseExpiresAtMs?: number;
  attempts: number;
  stepResult?: Record<string, unknown>;
  lastError?: { errorClass: string; message: string };
  updatedAtMs: number;
  doneAtMs?: number;
}

export type GroupStepClaim =
  | { outcome: 'claimed'; attempts: number }
  | { outcome: 'done'; row: GroupStepRow }
  | { outcome: 'held'; row: GroupStepRow };

const key = (r: GroupStepRef) => metaKeys.groupStep(r.scope, r.group, r.step);

export async function getGroupStep(s: GroupStepStore, ref: GroupStepRef): Promise<GroupStepRow | undefined> {
  const out = await s.ddb.send(new GetCommand({ TableName: s.table, Key: key(ref), ConsistentRead: true }));
  return out.Item as GroupStepRow | undefined;
}

export async function claimGroupStep(
  s: GroupStepStore,
  ref: GroupStepRef,
  owner: string,
  leaseMs: number,
): Promise<GroupStepClaim> {
  const now = nowOf(s);
  try {
    const out = await s.ddb.send(
      new UpdateCommand({
        TableName: s.table,
        Key: key(ref),
        ConditionExpression:
          'attribute_not_exists(pk) OR #st = :failed OR (#st = :running AND leaseExpiresAtMs < :now)',
        UpdateExpression:
          'SET #st = :running, #owner = :owner, leaseExpiresAtMs = :exp, updatedAtMs = :now, #type = :type, attempts = if_not_exists(attempts, :zero) + :one',
        ExpressionAttributeNames: { '#st': 'status', '#owner': 'owner', '#type': 'type' },
        ExpressionAttributeValues: {
          ':failed': 'failed',
          ':running': 'running',
          ':owner': owner,
          ':exp': now + leaseMs,
          ':now': now,
          ':type': 'group-step',
          ':zero': 0,
          ':one': 1,
        },
        ReturnValues: 'ALL_NEW',
      }),
    );
    return { outcome: 'claimed', attempts: Number(out.Attributes?.attempts ?? 1) };
  } catch (err) {
    if (!isConditionFailure(err)) throw err;
  }
  const row = await getGroupStep(s, ref);
  if (!row) return claimGroupStep(s, ref, owner, leaseMs); // deleted in between: try again
  return row.status === 'done' ? { outcome: 'done', row } : { outcome: 'held', row };
}

async function ownedUpdate(
  s: GroupStepStore,
  ref: GroupStepRef,
  owner: string,
  update: string,
  values: Record<string, unknown>,
): Promise<'ok' | 'lost'> {
  return conditionalWrite(() =>
    s.ddb.send(
      new UpdateCommand({
        TableName: s.table,
        Key: key(ref),
        ConditionExpression: '#st = :running AND #owner = :owner',
        UpdateExpression: update,
        ExpressionAttributeNames: { '#st': 'status', '#owner': 'owner' },
        ExpressionAttributeValues: { ':running': 'running', ':owner': owner, ...values },
      }),
    ),
  );
}

export async function completeGroupStep(
  s: GroupStepStore,
  ref: GroupStepRef,
  owner: string,
  result: Record<string, unknown> = {},
): Promise<'ok' | 'lost'> {
  const now = nowOf(s);
  return ownedUpdate(
    s,
    ref,
    owner,
    'SET #st = :done, stepResult = :r, doneAtMs = :now, updatedAtMs = :now REMOVE leaseExpiresAtMs',
    { ':done': 'done', ':r': result, ':now': now },
  );
}

export async function failGroupStep(
  s: GroupStepStore,
  ref: GroupStepRef,
  owner: string,
  error: { errorClass: string; message: string },
): Promise<'ok' | 'lost'> {
  const now = nowOf(s);
  return ownedUpdate(s, ref, owner, 'SET #st = :failedSt, lastError = :e, updatedAtMs = :now REMOVE leaseExpiresAtMs', {
    ':failedSt': 'failed',
    ':e': error,
    ':now': now,
  });
}
