import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planRun } from '../../coordinator/plan.js';
import '../../worker/jobs/builtin.js';
import { pgToDynamoKind } from '../../worker/jobs/pg-to-dynamodb/job.js';
import { pgDynamoSpecFromFlags, readMapping } from '../../worker/jobs/pg-to-dynamodb/plan.js';
import { countTable } from '../../worker/jobs/dynamodb-copy/verify.js';
import { itemsOfRun } from '../../state/item-bulk.js';
import { getRun } from '../../state/runs.js';
import { Worker } from '../../worker/worker.js';
import { createSchema, seedParking } from '../../examples/parking/seed.mjs';
import { freshEnv, startTestStack, waitUntil, type TestEnv, type TestStack } from '../helpers/stack.js';
import { createTable, createTestDb, ddbClient, itemCounts, suffix, type TestDb } from './helpers.js';

let t: TestStack;
let db: TestDb;
const tmp = mkdtempSync(path.join(tmpdir(), 'convoy-pg-'));
const EX = path.resolve('examples/parking');
beforeAll(async () => {
  t = await startTestStack();
  db = await createTestDb();
  await createSchema(db.pool);
  await seedParking(db.pool, { zones: 10, baysPerZone: 10, events: 6000 });
});
afterAll(async () => {
  await db?.drop();
  await t?.close();
});

async function runToEnd(env: TestEnv, runId: string, n: number) {
  const worker = new Worker(env.ctx, {
    concurrency: 8,
    waitSeconds: 0,
    threads: 1,
    counterFlushMs: 100,
    heartbeatMs: 200,
  });
  const done = worker.start();
  const st = await waitUntil(
    async () => {
      const s = await itemCounts(env.ctx, runId);
      return s.done + s.failed === n ? s : undefined;
    },
    { what: `${runId} terminal`, timeoutMs: 90_000 },
  );
  await worker.stop();
  await done;
  return st;
}

describe('pg-to-dynamodb', () => {
  it('backfills the parking example (events, zones) by quantile ranges, verifies, then catches up with --since', async () => {
    const env = await freshEnv(t.stack);
    const client = ddbClient(t.stack);
    const table = `parking-${suffix()}`;
    await createTable(client, table, { hash: 'PK', range: 'SK' });
    const spec = await pgDynamoSpecFromFlags(
      {
        from: db.url,
        table: 'parking_events',
        key: 'timestamp',
        to: `local:${table}`,
        mapping: path.join(EX, 'events.mapping.json'),
        ranges: 6,
        pageSize: 250,
        updatedColumn: 'updated_at',
      },
      env.ctx,
    );
    expect(spec.tiebreak).toEqual(['id']);
    expect(spec.watermark).toBeTruthy();
    const plan = await planRun(env.ctx, { kind: 'pg-to-dynamodb', runId: 'ev1', spec });
    expect(plan.itemsWritten).toBe(6);
    const st = await runToEnd(env, 'ev1', 6);
    expect(st.done).toBe(6);
    // quantile ranges: skewed times still give ranges of similar size
    const sizes: number[] = [];
    for await (const page of itemsOfRun(env.ctx.items, 'ev1')) for (const it of page) sizes.push(it.metrics!.objects);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(6000);
    expect(Math.max(...sizes)).toBeLessThan(1500);
    expect(await countTable(client, table)).toBe(6000);
    const run = (await getRun(env.ctx.meta, 'ev1'))!;
    const v = await pgToDynamoKind.verify!(run, spec, env.ctx, {
      reportPath: path.join(tmp, 'ev1.jsonl'),
      log: env.ctx.log,
    });
    expect(v.clean, v.lines.join('\n')).toBe(true);
    expect(v.counts.sample_ok).toBe(200);

    const zones = await pgDynamoSpecFromFlags(
      {
        from: db.url,
        table: 'parking_zones',
        key: 'created_at',
        tiebreak: ['zone_id'],
        to: `local:${table}`,
        mapping: path.join(EX, 'zones.mapping.json'),
        ranges: 2,
      },
      env.ctx,
    );
    await planRun(env.ctx, { kind: 'pg-to-dynamodb', runId: 'zones1', spec: zones });
    await runToEnd(env, 'zones1', (await getRun(env.ctx.meta, 'zones1'))!.plannedItems);
    expect(await countTable(client, table)).toBe(6010);

    // dual-write window: rows change and arrive after the backfill
    await db.pool.query(
      `UPDATE parking_events SET detection_mode = 'camera-v2', updated_at = updated_at + interval '400 days' WHERE id % 100 = 0`,
    );
    await seedParking(db.pool, {
      zones: 10,
      baysPerZone: 10,
      events: 150,
      firstEventId: 100000,
      endIso: '2025-09-01T00:00:00Z',
    });
    await db.pool.query(`UPDATE parking_events SET updated_at = '2025-09-02T00:00:00Z' WHERE id >= 100000`);
    const catchUp = await pgDynamoSpecFromFlags(
      {
        from: db.url,
        table: 'parking_events',
        key: 'timestamp',
        to: `local:${table}`,
        mapping: path.join(EX, 'events.mapping.json'),
        ranges: 2,
        since: 'ev1',
      },
      env.ctx,
    );
    expect(catchUp.since).toBeTruthy();
    await planRun(env.ctx, { kind: 'pg-to-dynamodb', runId: 'ev2', spec: catchUp });
    await runToEnd(env, 'ev2', (await getRun(env.ctx.meta, 'ev2'))!.plannedItems);
    let read = 0;
    for await (const page of itemsOfRun(env.ctx.items, 'ev2')) for (const it of page) read += it.metrics!.objects;
    // the changed and new rows, plus the overlap before the watermark (re-put harmlessly)
    const expected = Number(
      (
        await db.pool.query('SELECT count(*) AS n FROM parking_events WHERE updated_at > $1::timestamptz', [
          catchUp.since,
        ])
      ).rows[0].n,
    );
    expect(expected).toBeGreaterThanOrEqual(60 + 150);
    expect(read).toBe(expected);
    expect(await countTable(client, table)).toBe(6010 + 150);
    const v2 = await pgToDynamoKind.verify!((await getRun(env.ctx.meta, 'ev2'))!, catchUp, env.ctx, {
      reportPath: path.join(tmp, 'ev2.jsonl'),
      log: env.ctx.log,
    });
    expect(v2.clean, v2.lines.join('\n')).toBe(true);
    env.close();
  });

  it('a row the mapping cannot convert fails its range, naming the row; the other ranges complete', async () => {
    const env = await freshEnv(t.stack);
    const client = ddbClient(t.stack);
    const table = `bad-${suffix()}`;
    await createTable(client, table, { hash: 'PK', range: 'SK' });
    const mapping = readMapping(path.join(EX, 'events.mapping.json'));
    mapping.attributes.weird = { column: 'weird', type: 'N' };
    const mfile = path.join(tmp, 'weird.mapping.json');
    writeFileSync(mfile, JSON.stringify(mapping));
    const spec = await pgDynamoSpecFromFlags(
      {
        from: db.url,
        query: `SELECT *, CASE WHEN id = 777 THEN 'n/a' ELSE '1' END AS weird FROM parking_events WHERE id < 5000`,
        key: 'id',
        to: `local:${table}`,
        mapping: mfile,
        ranges: 5,
      },
      env.ctx,
    );
    await planRun(env.ctx, { kind: 'pg-to-dynamodb', runId: 'w1', spec });
    const st = await runToEnd(env, 'w1', 5);
    expect(st.failed).toBe(1);
    expect(st.done).toBe(4);
    let failed;
    for await (const page of itemsOfRun(env.ctx.items, 'w1'))
      for (const it of page) if (it.status === 'failed') failed = it;
    expect(failed!.lastError!.errorClass).toBe('UNCONVERTIBLE_VALUE');
    expect(failed!.lastError!.message).toContain('id=777');
    expect(failed!.lastError!.message).toContain('weird');
    env.close();
  });

  it('rejects bad input before anything is enqueued', async () => {
    const env = await freshEnv(t.stack);
    const table = `in-${suffix()}`;
    await createTable(ddbClient(t.stack), table, { hash: 'PK', range: 'SK' });
    const m = path.join(EX, 'events.mapping.json');
    const base = { from: db.url, table: 'parking_events', key: 'timestamp', to: `local:${table}`, mapping: m };
    await expect(pgDynamoSpecFromFlags({ ...base, from: 'postgres://postgres@127.0.0.1:1/x' })).rejects.toThrow(
      /cannot connect to PostgreSQL/,
    );
    await expect(
      pgDynamoSpecFromFlags({ ...base, from: 'postgres://postgres:secret@127.0.0.1:5432/x' }),
    ).rejects.toThrow(/PGPASSWORD/);
    await expect(pgDynamoSpecFromFlags({ ...base, table: 'no_such_table' })).rejects.toThrow(
      /table "no_such_table" does not exist/,
    );
    await expect(pgDynamoSpecFromFlags({ ...base, key: 'no_such_col' })).rejects.toThrow(
      /unknown column "no_such_col"/,
    );
    const badMap = path.join(tmp, 'badcol.mapping.json');
    writeFileSync(badMap, JSON.stringify({ keys: { PK: 'X#{nope}', SK: 'Y' } }));
    const spec = await pgDynamoSpecFromFlags({ ...base, mapping: badMap });
    await expect(planRun(env.ctx, { kind: 'pg-to-dynamodb', runId: 'b1', spec })).rejects.toThrow(
      /unknown column "nope"/,
    );
    const badMod = path.join(tmp, 'throws-on-import.mjs');
    writeFileSync(badMod, 'throw new Error("boom at import");');
    await expect(pgDynamoSpecFromFlags({ ...base, mapping: undefined, transform: badMod })).rejects.toThrow(
      /does not load: boom at import/,
    );
    await expect(
      pgDynamoSpecFromFlags({ ...base, to: 'local:missing-table' }).then((s) =>
        planRun(env.ctx, { kind: 'pg-to-dynamodb', runId: 'b2', spec: s }),
      ),
    ).rejects.toThrow(/does not exist/);
    expect(await getRun(env.ctx.meta, 'b1')).toBeUndefined();
    expect(await getRun(env.ctx.meta, 'b2')).toBeUndefined();
    expect((await env.ctx.queue.depth()).visible).toBe(0);
    env.close();
  });
});
