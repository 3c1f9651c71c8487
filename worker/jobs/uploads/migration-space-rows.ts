/**
 * Migration spaces: one per customer, holding the indexes the uploads job stores. Created once,
 * by a conditional put, so two workers racing on the same customer agree on ONE space (the loser
 * reads the winner's row and uses it). The space's private key is stored encrypted (the caller
 * encrypts; this module never sees a plaintext key). Rows live in the meta table, outside any
 * run: a later run for the same customer reuses the space.
 *   pk `mspace#<customer>`  sk `space`
 */
import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { isConditionFailure } from '../../../state/conditions.js';
import { nowOf, type TableStore } from '../../../state/store.js';

export type MigrationSpaceStore = TableStore;

export interface MigrationSpaceRow {
  customer: string;
  spaceDid: string;
  /** AES-256-GCM: base64 of iv(12) | tag(16) | ciphertext */
  encryptedKey: string;
  createdAtMs: number;
  /** set once provider/add succeeded */
  provisionedAtMs?: number;
}

const keyOf = (customer: string) => ({ pk: `mspace#${customer}`, sk: 'space' });

export async function getMigrationSpace(
  s: MigrationSpaceStore,
  customer: string,
): Promise<MigrationSpaceRow | undefined> {
  const out = await s.ddb.send(new GetCommand({ TableName: s.table, Key: keyOf(customer), ConsistentRead: true }));
  return out.Item as MigrationSpaceRow | undefined;
}

/** Create the customer's migration space unless one exists; returns the row that won. */
export async function createMigrationSpace(
  s: MigrationSpaceStore,
  row: Omit<MigrationSpaceRow, 'createdAtMs' | 'provisionedAtMs'>,
): Promise<{ created: boolean; row: MigrationSpaceRow }> {
  const full: MigrationSpaceRow = { ...row, createdAtMs: nowOf(s) };
  try {
    await s.ddb.send(
      new PutCommand({
        TableName: s.table,
        Item: { ...keyOf(row.customer), type: 'migration-space', ...full },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
    return { created: true, row: full };
  } catch (err) {
    if (!isConditionFailure(err)) throw err;
  }
  const existing = await getMigrationSpace(s, row.customer);
  if (!existing) throw new Error(`migration space of ${row.customer} vanished while being created`);
  return { created: false, row: existing };
}

export async function markMigrationSpaceProvisioned(s: MigrationSpaceStore, customer: string): Promise<void> {
  await s.ddb.send(
    new UpdateCommand({
      TableName: s.table,
      Key: keyOf(customer),
      UpdateExpression: 'SET provisionedAtMs = :now',
      ExpressionAttributeValues: { ':now': nowOf(s) },
    }),
  );
}
