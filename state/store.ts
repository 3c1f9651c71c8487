/**
 * What every state module is handed: a DocumentClient, the table it reads and writes, and an
 * optional clock (tests pin it to make leases, backoff and counter buckets deterministic). One
 * type for all of them, so a store built for one module fits every other on the same table.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

export interface TableStore {
  ddb: DynamoDBDocumentClient;
  table: string;
  now?: () => number;
}

/** The store's clock, or the wall clock. */
export const nowOf = (s: Pick<TableStore, 'now'>): number => (s.now ?? Date.now)();
