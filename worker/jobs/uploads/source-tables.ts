/**
 * The legacy tables the uploads job reads (never writes), with names from the uploads config:
 *   consumer    pk consumer (space DID); customer, provider; GSI `customer` (customer, consumer)
 *   upload      pk space, sk root; shards (string set of shard CAR CIDs), insertedAt
 *   allocation  pk space, sk multihash (base58btc); size           (blob protocol shards)
 *   store       pk space, sk link (shard CAR CID); size            (store protocol shards)
 *   delegation  pk space; delegation (base64 CAR: the space's grant to the migration agent)
 * Every listing is paged; nothing reads a whole table into memory.
 */
import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import {
  GetCommand,
  paginateQuery,
  QueryCommand,
  ScanCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import type { UploadsConfig } from './config.js';

export type TableNames = UploadsConfig['source']['tables'];

export interface UploadRow {
  space: string;
  root: string;
  shards?: Set<string> | string[];
  insertedAt?: string;
}

export interface SourceTables {
  ddb: DynamoDBDocumentClient;
  names: TableNames;
}

export function shardsOf(row: UploadRow): string[] {
  return row.shards ? [...row.shards].sort() : [];
}

export async function getUpload(t: SourceTables, space: string, root: string): Promise<UploadRow | undefined> {
  const out = await t.ddb.send(new GetCommand({ TableName: t.names.upload, Key: { space, root } }));
  return out.Item as UploadRow | undefined;
}

/** One page of a space's uploads after `startAfter` (root order). */
export async function uploadsPage(
  t: SourceTables,
  space: string,
  startAfter: string | undefined,
  limit: number,
): Promise<{ rows: UploadRow[]; last?: string }> {
  const out = await t.ddb.send(
    new QueryCommand({
      TableName: t.names.upload,
      KeyConditionExpression: '#s = :s',
      ExpressionAttributeNames: { '#s': 'space' },
      ExpressionAttributeValues: { ':s': space },
      ExclusiveStartKey: startAfter ? { space, root: startAfter } : undefined,
      Limit: limit,
    }),
  );
  const rows = (out.Items ?? []) as UploadRow[];
  return { rows, last: out.LastEvaluatedKey ? (out.LastEvaluatedKey.root as string) : undefined };
}

/** Count a space's uploads without reading them (Select COUNT). */
export async function countUploads(t: SourceTables, space: string): Promise<number> {
  let n = 0;
  for await (const out of paginateQuery(
    { client: t.ddb },
    {
      TableName: t.names.upload,
      KeyConditionExpression: '#s = :s',
      ExpressionAttributeNames: { '#s': 'space' },
      ExpressionAttributeValues: { ':s': space },
      Select: 'COUNT',
    },
  )) {
    n += out.Count ?? 0;
  }
  return n;
}

/** A customer's spaces (through the consumer table's `customer` index), all pages. */
export async function spacesOfCustomer(t: SourceTables, customer: string): Promise<string[]> {
  const spaces: string[] = [];
  for await (const out of paginateQuery(
    { client: t.ddb },
    {
      TableName: t.names.consumer,
      IndexName: 'customer',
      KeyConditionExpression: 'customer = :c',
      ExpressionAttributeValues: { ':c': customer },
    },
  )) {
    for (const row of out.Items ?? []) spaces.push(row.consumer as string);
  }
  return spaces.sort();
}

/** One page of a parallel-scan segment of the consumer table. */
export async function consumersPage(
  t: SourceTables,
  segment: number,
  totalSegments: number,
  start: Record<string, unknown> | undefined,
): Promise<{ rows: Array<{ consumer: string; customer: string }>; next?: Record<string, unknown> }> {
  const out = await t.ddb.send(
    new ScanCommand({
      TableName: t.names.consumer,
      Segment: segment,
      TotalSegments: totalSegments,
      ExclusiveStartKey: start,
      Limit: 500,
    }),
  );
  return { rows: (out.Items ?? []) as Array<{ consumer: string; customer: string }>, next: out.LastEvaluatedKey };
}

export async function customerOfSpace(t: SourceTables, space: string): Promise<string | undefined> {
  const out = await t.ddb.send(new GetCommand({ TableName: t.names.consumer, Key: { consumer: space } }));
  return out.Item?.customer as string | undefined;
}

export async function getSpaceDelegation(t: SourceTables, space: string): Promise<string | undefined> {
  const out = await t.ddb.send(new GetCommand({ TableName: t.names.delegation, Key: { space } }));
  return out.Item?.delegation as string | undefined;
}

/** A shard's size and protocol from the allocation (blob) or store table. */
export async function shardRecord(
  t: SourceTables,
  space: string,
  shardCid: string,
  b58: string,
): Promise<{ size: number; protocol: 'blob' | 'store' } | undefined> {
  const [alloc, store] = await Promise.all([
    t.ddb.send(new GetCommand({ TableName: t.names.allocation, Key: { space, multihash: b58 } })),
    t.ddb.send(new GetCommand({ TableName: t.names.store, Key: { space, link: shardCid } })),
  ]);
  if (alloc.Item) return { size: Number(alloc.Item.size), protocol: 'blob' };
  if (store.Item) return { size: Number(store.Item.size), protocol: 'store' };
  return undefined;
}

/** Table definitions, for the local stack and tests (production tables exist already). */
export function sourceTableDefinitions(names: TableNames): CreateTableCommandInput[] {
  const s = (n: string) => ({ AttributeName: n, AttributeType: 'S' as const });
  return [
    {
      TableName: names.consumer,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [s('consumer'), s('customer')],
      KeySchema: [{ AttributeName: 'consumer', KeyType: 'HASH' }],
      GlobalSecondaryIndexes: [
        {
          IndexName: 'customer',
          KeySchema: [
            { AttributeName: 'customer', KeyType: 'HASH' },
            { AttributeName: 'consumer', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
    },
    {
      TableName: names.upload,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [s('space'), s('root')],
      KeySchema: [
        { AttributeName: 'space', KeyType: 'HASH' },
        { AttributeName: 'root', KeyType: 'RANGE' },
      ],
    },
    {
      TableName: names.allocation,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [s('space'), s('multihash')],
      KeySchema: [
        { AttributeName: 'space', KeyType: 'HASH' },
        { AttributeName: 'multihash', KeyType: 'RANGE' },
      ],
    },
    {
      TableName: names.store,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [s('space'), s('link')],
      KeySchema: [
        { AttributeName: 'space', KeyType: 'HASH' },
        { AttributeName: 'link', KeyType: 'RANGE' },
      ],
    },
    {
      TableName: names.delegation,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [s('space')],
      KeySchema: [{ AttributeName: 'space', KeyType: 'HASH' }],
    },
  ];
}
