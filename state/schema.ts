/**
 * The shape of convoy's DynamoDB state. Two tables:
 *
 * items table (one row per work item)
 *   pk `runId`, sk `itemId`. Item rows are the truth about progress; SQS only delivers pointers.
 *   GSI `byStatus` (hash `statusKey`, range `itemId`): `statusKey` = `<runId>#<status>#<shard>`
 *   is set on every status except `done` (sparse), so failed / pending / leased items are found
 *   without reading done ones, and the shard (0..STATUS_SHARDS-1, from the item id's hash) keeps
 *   100k pending items of one run off a single index partition.
 *
 * meta table (pk, sk) for everything else:
 *   run row          pk `run#<runId>`      sk `run`
 *   counters         pk `ctr#<runId>`      sk `total#<workerId>`             (cumulative per worker)
 *                    pk `ctr#<runId>#<minuteBucket>`  sk `<workerId>`        (per minute per worker)
 *                    pk `ctrg#<runId>`    sk `<group>#<workerId>`           (cumulative per group per worker)
 *                    pk `ctrg#<runId>`    sk `<group>#~planned`             (items planned in the group)
 *   worker heartbeat pk `worker`           sk `<workerId>`
 *   group steps      pk `group#<runId>#<group>`  sk `step#<name>`
 *   adaptive rates   pk `rate#<runId>`       sk `<destination>`              (one per throttled destination)
 * Counter keys are sharded by worker and by time bucket, so no key is written by the whole fleet.
 */
import {
  CreateTableCommand,
  DescribeTableCommand,
  ResourceNotFoundException,
  type CreateTableCommandInput,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { sleep } from '../shared/sleep.js';

export const STATUS_SHARDS = 8;
export const BY_STATUS_INDEX = 'byStatus';

export function itemsTableDefinition(tableName: string): CreateTableCommandInput {
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [
      { AttributeName: 'runId', AttributeType: 'S' },
      { AttributeName: 'itemId', AttributeType: 'S' },
      { AttributeName: 'statusKey', AttributeType: 'S' },
    ],
    KeySchema: [
      { AttributeName: 'runId', KeyType: 'HASH' },
      { AttributeName: 'itemId', KeyType: 'RANGE' },
    ],
    GlobalSecondaryIndexes: [
      {
        IndexName: BY_STATUS_INDEX,
        KeySchema: [
          { AttributeName: 'statusKey', KeyType: 'HASH' },
          { AttributeName: 'itemId', KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'ALL' },
      },
    ],
  };
}

export function metaTableDefinition(tableName: string): CreateTableCommandInput {
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [
      { AttributeName: 'pk', AttributeType: 'S' },
      { AttributeName: 'sk', AttributeType: 'S' },
    ],
    KeySchema: [
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ],
  };
}

/** Create a table unless it exists; wait until it is ACTIVE. */
export async function ensureTable(client: DynamoDBClient, def: CreateTableCommandInput): Promise<void> {
  try {
    await client.send(new CreateTableCommand(def));
  } catch (err) {
    if ((err as Error).name !== 'ResourceInUseException') throw err;
  }
  for (let i = 0; i < 600; i++) {
    try {
      const d = await client.send(new DescribeTableCommand({ TableName: def.TableName }));
      if (d.Table?.TableStatus === 'ACTIVE') return;
    } catch (err) {
      if (!(err instanceof ResourceNotFoundException)) throw err;
    }
    await sleep(100);
  }
  throw new Error(`table ${def.TableName} did not become ACTIVE`);
}

/** FNV-1a of the item id, for the status-index shard. Stable across processes and versions. */
export function statusShard(itemId: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < itemId.length; i++) {
    h ^= itemId.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % STATUS_SHARDS;
}

export function statusKey(runId: string, status: string, itemId: string): string {
  return `${runId}#${status}#${statusShard(itemId)}`;
}

export function statusKeysFor(runId: string, status: string): string[] {
  return Array.from({ length: STATUS_SHARDS }, (_, shard) => `${runId}#${status}#${shard}`);
}

/** sk suffix of a group's planned-count row ('~' sorts after worker ids, which never contain it) */
export const GROUP_PLANNED_SUFFIX = '~planned';

export const metaKeys = {
  run: (runId: string) => ({ pk: `run#${runId}`, sk: 'run' }),
  counterTotal: (runId: string, workerId: string) => ({ pk: `ctr#${runId}`, sk: `total#${workerId}` }),
  counterMinute: (runId: string, minuteBucket: number, workerId: string) => ({
    pk: `ctr#${runId}#${minuteBucket}`,
    sk: workerId,
  }),
  counterGroup: (runId: string, group: string, workerId: string) => ({
    pk: `ctrg#${runId}`,
    sk: `${group}#${workerId}`,
  }),
  /** items planned in a group (planner and fleet expansion add to it): pending per group = planned - the rest */
  groupPlanned: (runId: string, group: string) => ({ pk: `ctrg#${runId}`, sk: `${group}#${GROUP_PLANNED_SUFFIX}` }),
  worker: (workerId: string) => ({ pk: 'worker', sk: workerId }),
  groupStep: (runId: string, group: string, step: string) => ({ pk: `group#${runId}#${group}`, sk: `step#${step}` }),
  /** the fleet's adaptive rate for one destination of a run (./fleet-rates.ts) */
  fleetRate: (runId: string, destination: string) => ({ pk: `rate#${runId}`, sk: destination }),
  fleetRates: (runId: string) => `rate#${runId}`,
  /** a large object copied by parts across several items of a run (./part-copies.ts) */
  partCopy: (runId: string, object: string) => ({ pk: `pcopy#${runId}`, sk: object }),
};
