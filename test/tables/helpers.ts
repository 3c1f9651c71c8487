/**
 * Fixtures for the table-job tests: DynamoDB tables on the local stack's dynalite, seeded with
 * BatchWriteItem; PostgreSQL databases created per test file and dropped afterwards.
 */
import { randomBytes } from 'node:crypto';
import {
  BatchWriteItemCommand,
  CreateTableCommand,
  DynamoDBClient,
  type AttributeValue,
} from '@aws-sdk/client-dynamodb';
import pg from 'pg';
import pLimit from 'p-limit';
import { drainBatch } from '../../shared/backoff.js';
import type { LocalStack } from '../../infra/local/stack.js';
import type { ConvoyContext } from '../../shared/context.js';
import { itemsOfRun } from '../../state/item-bulk.js';
import type { ItemRow } from '../../state/item-row.js';

export const PG_ADMIN_URL = process.env.CONVOY_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export function ddbClient(stack: LocalStack): DynamoDBClient {
  return new DynamoDBClient({
    region: 'us-east-1',
    endpoint: stack.endpoints.dynamodb,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
}

export async function createTable(
  client: DynamoDBClient,
  name: string,
  keys: { hash: string; range?: string },
): Promise<void> {
  await client.send(
    new CreateTableCommand({
      TableName: name,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: keys.hash, AttributeType: 'S' },
        ...(keys.range ? [{ AttributeName: keys.range, AttributeType: 'S' as const }] : []),
      ],
      KeySchema: [
        { AttributeName: keys.hash, KeyType: 'HASH' },
        ...(keys.range ? [{ AttributeName: keys.range, KeyType: 'RANGE' as const }] : []),
      ],
    }),
  );
}

export async function seedItems(
  client: DynamoDBClient,
  table: string,
  n: number,
  make: (i: number) => Record<string, AttributeValue>,
  concurrency = 8,
): Promise<void> {
  const limit = pLimit(concurrency);
  const jobs: Promise<void>[] = [];
  for (let i = 0; i < n; i += 25) {
    const batch = Array.from({ length: Math.min(25, n - i) }, (_, j) => ({ PutRequest: { Item: make(i + j) } }));
    jobs.push(
      limit(() =>
        drainBatch(batch, async (pending) => {
          const out = await client.send(new BatchWriteItemCommand({ RequestItems: { [table]: pending } }));
          return (out.UnprocessedItems?.[table] ?? []) as typeof batch;
        }),
      ),
    );
  }
  await Promise.all(jobs);
}

/** An item like those of a cross-account DynamoDB table copy: receipts with S3 URLs to rewrite, nested. */
export function receiptItem(i: number): Record<string, AttributeValue> {
  const id = String(i).padStart(7, '0');
  return {
    PK: { S: `IMAGE#${id}` },
    SK: { S: i % 3 === 0 ? 'RECEIPT' : `WORD#${i % 7}` },
    raw_s3: { S: `s3://dev-raw-bucket/images/${id}.png` },
    meta: {
      M: {
        cdn: { S: `https://dev-cdn-bucket.example/${id}.jpg` },
        tags: { L: [{ S: 'dev-raw-bucket' }, { N: String(i) }] },
      },
    },
    buckets: { SS: ['dev-raw-bucket', 'dev-cdn-bucket'] },
    n: { N: String(i) },
    legacy: { S: 'x' },
    ttl: { N: '1700000000' },
  };
}

export interface TestDb {
  url: string;
  name: string;
  pool: pg.Pool;
  drop(): Promise<void>;
}

/** A fresh database (dropped by `drop`). */
export async function createTestDb(prefix = 'convoy_t'): Promise<TestDb> {
  const name = `${prefix}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = PG_ADMIN_URL.replace(/\/[^/]*$/, `/${name}`);
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  // drop()'s DROP ... WITH (FORCE) may end a client still closing: not an error of the test's.
  // pool.end() resolves once its clients are taken off its lists, before their sockets close; the
  // server's 57P01 then reaches a client whose idle listener re-emits it on the pool, which throws
  // (an unhandled error that failed a compat run) unless the pool has a listener of its own
  pool.on('error', () => undefined);
  pool.on('remove', (client) => client.on('error', () => undefined));
  return {
    url,
    name,
    pool,
    async drop() {
      await pool.end().catch(() => undefined);
      const { closePgPools } = await import('../../worker/jobs/table-io/pg-source.js');
      await closePgPools();
      const a = new pg.Client({ connectionString: PG_ADMIN_URL });
      await a.connect();
      await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await a.end();
    },
  };
}

export const suffix = () => randomBytes(3).toString('hex');

/** An event store table (the kind exported to S3 by pg-to-s3), seeded with `n` events over `days` days for `aggregates` aggregates. */
export async function seedEventStore(
  db: { query(text: string, values?: unknown[]): Promise<unknown> },
  n: number,
  opts: { days?: number; aggregates?: number; table?: string } = {},
): Promise<void> {
  const table = opts.table ?? 'events';
  await db.query(`CREATE TABLE IF NOT EXISTS ${table} (
    event_id bigint PRIMARY KEY, aggregate_type text NOT NULL, aggregate_id text NOT NULL, sequence integer NOT NULL,
    event_type text NOT NULL, payload jsonb NOT NULL, amount numeric(12,4), created_at timestamptz NOT NULL, UNIQUE (aggregate_id, sequence))`);
  await db.query(
    `INSERT INTO ${table} SELECT i, 'Order', 'order-' || (i % $2), (i / $2)::int, (ARRAY['Created','Paid','Shipped','Delivered'])[1 + (i / $2) % 4],
       jsonb_build_object('i', i, 'note', 'event ' || i, 'items', jsonb_build_array(i % 7, i % 11)), round((i * 1.2345)::numeric, 4),
       timestamptz '2024-11-01T00:00:00Z' + (i::float8 / $1 * $3 * interval '1 day') + ((i % 1000) * interval '1 microsecond')
     FROM generate_series(0, $1 - 1) i`,
    [n, opts.aggregates ?? 97, opts.days ?? 3],
  );
}

/**
 * Item rows of a run by status, read from the table itself (strongly consistent). Tests wait on
 * this rather than on runStatus, whose per-status index counts are not one snapshot: an item
 * moving between two statuses while they are counted can be missed by both.
 */
export async function itemCounts(
  ctx: ConvoyContext,
  runId: string,
): Promise<{ done: number; failed: number; total: number; items: ItemRow[] }> {
  const items: ItemRow[] = [];
  for await (const page of itemsOfRun(ctx.items, runId)) items.push(...page);
  return {
    done: items.filter((i) => i.status === 'done').length,
    failed: items.filter((i) => i.status === 'failed').length,
    total: items.length,
    items,
  };
}
