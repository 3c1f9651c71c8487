/**
 * Worker heartbeat rows: one per worker process, rewritten every few seconds. The monitor marks a
 * worker stale when its last beat is older than a threshold; nothing else depends on them (leases
 * on items are what make a dead worker's items come back).
 */
import { paginateQuery, PutCommand } from '@aws-sdk/lib-dynamodb';
import { metaKeys } from './schema.js';
import type { TableStore } from './store.js';

export interface WorkerHeartbeat {
  workerId: string;
  host: string;
  pid: number;
  startedAtMs: number;
  lastBeatAtMs: number;
  state: 'running' | 'draining' | 'stopped';
  inFlight: number;
  done: number;
  failed: number;
  /** label given at launch (e.g. instance-3), for `monitor --instance` */
  instance?: string;
  runs?: string[];
  /**
   * Set when a host's supervisor (`convoy worker --processes N`) started this process: the
   * supervisor's pid, this process's slot (1..N; a restarted process keeps its slot and worker
   * id) and N. The monitor groups a host's processes by (host, supervisorPid).
   */
  supervisorPid?: number;
  slot?: number;
  processes?: number;
}

export type WorkerStore = TableStore;

export async function writeHeartbeat(s: WorkerStore, beat: WorkerHeartbeat): Promise<void> {
  await s.ddb.send(
    new PutCommand({ TableName: s.table, Item: { ...metaKeys.worker(beat.workerId), type: 'worker', ...beat } }),
  );
}

export async function listWorkers(s: WorkerStore): Promise<WorkerHeartbeat[]> {
  const rows: WorkerHeartbeat[] = [];
  for await (const out of paginateQuery(
    { client: s.ddb },
    { TableName: s.table, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': 'worker' } },
  )) {
    rows.push(...((out.Items ?? []) as WorkerHeartbeat[]));
  }
  return rows;
}
