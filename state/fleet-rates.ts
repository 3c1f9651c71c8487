/**
 * The fleet's adaptive rate per destination of a run: one row per destination that has throttled
 * (pk `rate#<runId>`, sk the destination, e.g. `s3:aws/bucket/prefix`). Every worker process of
 * every host reads the run's rows once per window (one Query) and takes its share of each rate;
 * a cut or a raise is one conditional write that only the first worker to ask wins, so the fleet
 * moves together (worker/budget/aimd.ts decides, worker/budget/adaptive-rates.ts drives).
 */
import { PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { isConditionFailure } from './conditions.js';
import { metaKeys } from './schema.js';
import type { TableStore } from './store.js';

export interface FleetRateRow {
  destination: string;
  /** units per second for the whole fleet */
  rate: number;
  /** the rate at the last cut */
  ceiling?: number;
  lastCutAtMs: number;
  lastRaiseAtMs: number;
  cuts: number;
  raises: number;
  updatedAtMs: number;
}

/** Every destination's rate of the run (a consistent Query of one partition; few rows). */
export async function readFleetRates(s: TableStore, runId: string): Promise<Map<string, FleetRateRow>> {
  const rows = new Map<string, FleetRateRow>();
  let start: Record<string, unknown> | undefined;
  do {
    const out = await s.ddb.send(
      new QueryCommand({
        TableName: s.table,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': metaKeys.fleetRates(runId) },
        ConsistentRead: true,
        ExclusiveStartKey: start,
      }),
    );
    for (const item of out.Items ?? []) {
      const row = item as FleetRateRow & { sk: string };
      rows.set(row.sk, { ...row, destination: row.sk });
    }
    start = out.LastEvaluatedKey;
  } while (start);
  return rows;
}

/**
 * Cut the destination's rate from `from` (undefined: the row does not exist yet) to `to`, unless
 * another worker changed it first or cut within `cooldownMs`. True when this write won.
 */
export async function cutFleetRate(
  s: TableStore,
  runId: string,
  destination: string,
  change: { from: number | undefined; to: number; ceiling: number; nowMs: number; cooldownMs: number },
): Promise<boolean> {
  try {
    if (change.from === undefined) {
      await s.ddb.send(
        new PutCommand({
          TableName: s.table,
          Item: {
            ...metaKeys.fleetRate(runId, destination),
            type: 'rate',
            rate: change.to,
            ceiling: change.ceiling,
            lastCutAtMs: change.nowMs,
            lastRaiseAtMs: change.nowMs,
            cuts: 1,
            raises: 0,
            updatedAtMs: change.nowMs,
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } else {
      await s.ddb.send(
        new UpdateCommand({
          TableName: s.table,
          Key: metaKeys.fleetRate(runId, destination),
          UpdateExpression: 'SET rate = :to, ceiling = :ceiling, lastCutAtMs = :now, updatedAtMs = :now ADD cuts :one',
          ConditionExpression: 'rate = :from AND lastCutAtMs < :edge',
          ExpressionAttributeValues: {
            ':to': change.to,
            ':ceiling': change.ceiling,
            ':from': change.from,
            ':now': change.nowMs,
            ':edge': change.nowMs - change.cooldownMs,
            ':one': 1,
          },
        }),
      );
    }
    return true;
  } catch (err) {
    if (isConditionFailure(err)) return false;
    throw err;
  }
}

/** Raise the rate from `from` to `to`, at most once per `spacingMs` for the fleet. True when this write won. */
export async function raiseFleetRate(
  s: TableStore,
  runId: string,
  destination: string,
  change: { from: number; to: number; nowMs: number; spacingMs: number },
): Promise<boolean> {
  try {
    await s.ddb.send(
      new UpdateCommand({
        TableName: s.table,
        Key: metaKeys.fleetRate(runId, destination),
        UpdateExpression: 'SET rate = :to, lastRaiseAtMs = :now, updatedAtMs = :now ADD raises :one',
        ConditionExpression: 'rate = :from AND lastRaiseAtMs < :edge',
        ExpressionAttributeValues: {
          ':to': change.to,
          ':from': change.from,
          ':now': change.nowMs,
          ':edge': change.nowMs - change.spacingMs,
          ':one': 1,
        },
      }),
    );
    return true;
  } catch (err) {
    if (isConditionFailure(err)) return false;
    throw err;
  }
}

/** `adaptive rate s3:aws/bucket/logs/: 182.4/s (last throttled at 203.0/s; 3 cuts, 12 raises)` */
export function describeFleetRate(r: FleetRateRow): string {
  const ceiling = r.ceiling === undefined ? '' : `last throttled at ${r.ceiling.toFixed(1)}/s; `;
  return `adaptive rate ${r.destination}: ${r.rate.toFixed(1)}/s (${ceiling}${r.cuts} cut(s), ${r.raises} raise(s))`;
}
