/**
 * Each table job kind end to end with spawned worker processes, one of them killed with SIGKILL
 * while it holds items: nothing lost, nothing duplicated in the destination, verify clean.
 * `npm test` runs 20k rows/items per kind; `npm run test:tables-full` runs 100k (TABLES_FULL=1).
 */
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planRun } from '../../coordinator/plan.js';
import '../../worker/jobs/builtin.js';
import { copySpecFromFlags } from '../../worker/jobs/dynamodb-copy/plan-command.js';
import { countTable } from '../../worker/jobs/dynamodb-copy/verify.js';
import { pgDynamoSpecFromFlags } from '../../worker/jobs/pg-to-dynamodb/plan.js';
import { pgS3SpecFromFlags } from '../../worker/jobs/pg-to-s3/plan.js';
import { itemsOfRun } from '../../state/item-bulk.js';
import type { ItemRow } from '../../state/item-row.js';
import { getRun } from '../../state/runs.js';
import { createSchema, seedParking } from '../../examples/parking/seed.mjs';
import { freshEnv, startTestStack, waitUntil, type TestEnv, type TestStack } from '../helpers/stack.js';
import {
  createTable,
  createTestDb,
  ddbClient,
  itemCounts,
  receiptItem,
  seedEventStore,
  seedItems,
  suffix,
  type TestDb,
} from './helpers.js';
import { FLEET_RETRY, requireDist, spawnWorker, stopAll, writeFleetConfig, type SpawnedWorker } from './fleet.js';

const N = process.env.TABLES_FULL ? 100_000 : 20_000;
const TIMEOUT = process.env.TABLES_FULL ? 900_000 : 240_000;
const timings: Record<string, number> = {};

let t: TestStack;
let db: TestDb;
const workers: SpawnedWorker[] = [];
beforeAll(async () => {
  requireDist();
  t = await startTestStack();
  db = await createTestDb();
}, 120_000);
afterAll(async () => {
  await stopAll(workers);
  await db?.drop();
  await t?.close();
  if (process.env.TABLES_TIMINGS) console.log(JSON.stringify({ N, timings }));
});

async function items(env: TestEnv, runId: string): Promise<ItemRow[]> {
  const all: ItemRow[] = [];
  for await (const page of itemsOfRun(env.ctx.items, runId)) all.push(...page);
  return all;
}

/**
 * Two workers start; once worker A holds a lease on an item that has made progress (`ready`), A
 * is killed with SIGKILL and a third worker joins. Resolves when every item is done.
 *
 * A could finish its item between our read of the lease and the kill, and then die holding
 * nothing. So A is frozen first (SIGSTOP), its leases are read while it cannot change them, and
 * it is killed only if it holds one; otherwise it is thawed (SIGCONT) and we wait again.
 */
async function runWithKill(
  env: TestEnv,
  dir: string,
  runId: string,
  ready: (it: ItemRow, all: ItemRow[]) => boolean,
): Promise<ItemRow[]> {
  const config = writeFleetConfig(dir, env.config);
  const a = spawnWorker(config, dir, `${runId}-A`, ['--run', runId]);
  const b = spawnWorker(config, dir, `${runId}-B`, ['--run', runId]);
  workers.push(a, b);
  const heldByA = (all: ItemRow[]) => all.filter((it) => it.status === 'leased' && it.leaseOwner === a.id);
  let stranded: string[] = [];
  while (stranded.length === 0) {
    const seen = await waitUntil(
      async () => {
        const all = await items(env, runId);
        if (heldByA(all).some((it) => ready(it, all))) return 'ready';
        // nothing left that A could still claim: the run is too small to kill A mid-item
        if (!all.some((it) => it.status === 'pending' || it.status === 'retrying') && heldByA(all).length === 0)
          return 'no-work';
        return undefined;
      },
      { what: `worker A to make progress in ${runId}`, timeoutMs: TIMEOUT, intervalMs: 50 },
    );
    if (seen === 'no-work')
      throw new Error(`${runId}: worker A ran out of work before it could be killed mid-item; make the run larger`);
    a.child.kill('SIGSTOP');
    // A write A sent just before it stopped may still be on its way into the emulator: a first
    // full read (a round trip issued after the stop) lets it land; the second read is the truth.
    await items(env, runId);
    stranded = heldByA(await items(env, runId)).map((it) => it.itemId);
    if (stranded.length === 0) a.child.kill('SIGCONT');
  }
  a.child.kill('SIGKILL');
  await a.exited;
  if (process.env.DEBUG_KILL)
    console.log(
      JSON.stringify(
        (await items(env, runId)).map((i) => [
          i.itemId,
          i.status,
          i.leaseOwner,
          i.attempts,
          i.history?.map((h) => h.event + ':' + h.worker + ':' + h.atMs),
        ]),
      ),
    );
  const c = spawnWorker(config, dir, `${runId}-C`, ['--run', runId]);
  workers.push(c);
  const planned = (await getRun(env.ctx.meta, runId))!.plannedItems;
  let failedItem: ItemRow | undefined;
  await waitUntil(
    async () => {
      const s = await itemCounts(env.ctx, runId);
      failedItem = s.items.find((i) => i.status === 'failed');
      return failedItem !== undefined || s.done === planned;
    },
    { what: `${runId} done`, timeoutMs: TIMEOUT, intervalMs: 250 },
  );
  if (failedItem) throw new Error(`item ${failedItem.itemId} failed: ${JSON.stringify(failedItem.lastError)}`);
  await stopAll([b, c]);
  const all = await items(env, runId);
  // the killed worker's items came back: claimed again after their leases expired, then done
  for (const id of stranded) {
    const it = all.find((x) => x.itemId === id)!;
    expect(it.status).toBe('done');
    expect(it.attempts).toBeGreaterThanOrEqual(2);
    expect(it.worker).not.toBe(a.id);
  }
  return all;
}

async function verifyClean(env: TestEnv, dir: string, runId: string) {
  const run = (await getRun(env.ctx.meta, runId))!;
  const kind = await env.ctx.kinds.job(run.kind);
  const summary = await kind.verify!(run, kind.specSchema.parse(run.spec), env.ctx, {
    reportPath: path.join(dir, `${runId}.jsonl`),
    log: env.ctx.log,
  });
  expect(summary.clean, summary.lines.join('\n')).toBe(true);
  return summary;
}

describe(`table jobs with a worker killed (-9), ${N} rows each`, () => {
  it(
    'dynamodb-copy',
    async () => {
      const env = await freshEnv(t.stack);
      const dir = mkdtempSync(path.join(tmpdir(), 'convoy-kill-copy-'));
      const client = ddbClient(t.stack);
      const s = suffix();
      await createTable(client, `dev-${s}`, { hash: 'PK', range: 'SK' });
      await createTable(client, `prod-${s}`, { hash: 'PK', range: 'SK' });
      await seedItems(client, `dev-${s}`, N, receiptItem);
      const spec = await copySpecFromFlags({
        from: `local:dev-${s}`,
        to: `local:prod-${s}`,
        segments: 16,
        pageSize: 250,
        rewrite: ['dev-raw-bucket=prod-raw-bucket'],
      });
      await planRun(env.ctx, { kind: 'dynamodb-copy', runId: 'kc', spec, retry: FLEET_RETRY });
      const started = Date.now();
      const all = await runWithKill(env, dir, 'kc', (it) => Boolean(it.checkpoint));
      timings.copyMs = Date.now() - started;
      expect(all.reduce((a, it) => a + (it.metrics?.objects ?? 0), 0)).toBe(N);
      expect(await countTable(client, `prod-${s}`)).toBe(N);
      await verifyClean(env, dir, 'kc');
      env.close();
    },
    TIMEOUT,
  );

  it(
    'pg-to-dynamodb',
    async () => {
      const env = await freshEnv(t.stack);
      const dir = mkdtempSync(path.join(tmpdir(), 'convoy-kill-pgd-'));
      await createSchema(db.pool);
      await seedParking(db.pool, { zones: 20, baysPerZone: 10, events: N });
      const table = `parking-${suffix()}`;
      await createTable(ddbClient(t.stack), table, { hash: 'PK', range: 'SK' });
      const spec = await pgDynamoSpecFromFlags(
        {
          from: db.url,
          table: 'parking_events',
          key: 'timestamp',
          to: `local:${table}`,
          mapping: path.resolve('examples/parking/events.mapping.json'),
          ranges: 16,
          pageSize: 500,
        },
        env.ctx,
      );
      await planRun(env.ctx, { kind: 'pg-to-dynamodb', runId: 'kp', spec, retry: FLEET_RETRY });
      const started = Date.now();
      const all = await runWithKill(env, dir, 'kp', (it) => Boolean(it.checkpoint));
      timings.pgDynamoMs = Date.now() - started;
      expect(all.reduce((a, it) => a + (it.metrics?.objects ?? 0), 0)).toBe(N);
      expect(await countTable(ddbClient(t.stack), table)).toBe(N);
      await verifyClean(env, dir, 'kp');
      env.close();
    },
    TIMEOUT,
  );

  it(
    'pg-to-s3',
    async () => {
      const env = await freshEnv(t.stack);
      const dir = mkdtempSync(path.join(tmpdir(), 'convoy-kill-pgs3-'));
      await seedEventStore(db.pool, N, { table: 'store_events', days: 3 });
      const r = t.stack.remotes.local!;
      const s3 = new S3Client({
        region: r.region,
        endpoint: r.endpoint,
        forcePathStyle: true,
        // the remote's own identity: on radosgw (test:compat) each remote is a tenant of its own
        credentials: { accessKeyId: r.accessKeyId, secretAccessKey: r.secretAccessKey },
      });
      const bucket = `store-${suffix()}`;
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
      const spec = await pgS3SpecFromFlags({
        from: db.url,
        table: 'store_events',
        timeColumn: 'created_at',
        order: ['aggregate_id', 'sequence'],
        partition: '2h',
        to: `local:${bucket}/events`,
        fetchSize: 20,
      }); // small fetches: partitions take long enough to be killed mid-way
      await planRun(env.ctx, { kind: 'pg-to-s3', runId: 'ks', spec, retry: FLEET_RETRY });
      const started = Date.now();
      // kill A while it streams a partition, after some partitions are already in S3
      const all = await runWithKill(env, dir, 'ks', (_it, every) => every.some((i) => i.status === 'done'));
      timings.pgS3Ms = Date.now() - started;
      expect(all.length).toBe(36); // 3 days of 2 h partitions: more partitions than the two workers' 16 slots, so work remains to kill A in
      expect(all.reduce((a, it) => a + (it.metrics?.objects ?? 0), 0)).toBe(N);
      await verifyClean(env, dir, 'ks');
      env.close();
    },
    TIMEOUT,
  );
});
