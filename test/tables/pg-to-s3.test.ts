import { CreateBucketCommand, DeleteObjectCommand, GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planRun } from '../../coordinator/plan.js';
import '../../worker/jobs/builtin.js';
import { pgToS3Kind } from '../../worker/jobs/pg-to-s3/job.js';
import { pgS3SpecFromFlags } from '../../worker/jobs/pg-to-s3/plan.js';
import { parseWindow, readManifest, replay } from '../../worker/jobs/pg-to-s3/replay.js';
import { getRun } from '../../state/runs.js';
import { Worker } from '../../worker/worker.js';
import { freshEnv, startTestStack, waitUntil, type TestStack } from '../helpers/stack.js';
import { createTestDb, itemCounts, seedEventStore, suffix, type TestDb } from './helpers.js';

let t: TestStack;
let db: TestDb;
let s3: S3Client;
const tmp = mkdtempSync(path.join(tmpdir(), 'convoy-s3x-'));
beforeAll(async () => {
  t = await startTestStack();
  db = await createTestDb();
  await seedEventStore(db.pool, 6000);
  const r = t.stack.remotes.local!;
  s3 = new S3Client({
    region: r.region,
    endpoint: r.endpoint,
    forcePathStyle: true,
    // the remote's own identity: on radosgw (test:compat) each remote is a tenant of its own
    credentials: { accessKeyId: r.accessKeyId, secretAccessKey: r.secretAccessKey },
  });
});
afterAll(async () => {
  await db?.drop();
  await t?.close();
});

async function collect(fn: (out: PassThrough) => Promise<unknown>): Promise<string[]> {
  const out = new PassThrough();
  let text = '';
  out.on('data', (c) => (text += c));
  await fn(out);
  out.end();
  return text.split('\n').filter(Boolean);
}

describe('pg-to-s3', () => {
  it('exports partitions with a manifest, verifies by counts and hashes, replays a window in order, and catches tampering', async () => {
    const env = await freshEnv(t.stack);
    const bucket = `events-${suffix()}`;
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const spec = await pgS3SpecFromFlags({
      from: db.url,
      table: 'events',
      timeColumn: 'created_at',
      order: ['aggregate_id', 'sequence'],
      partition: '6h',
      to: `local:${bucket}/store`,
    });
    const plan = await planRun(env.ctx, { kind: 'pg-to-s3', runId: 'x1', spec });
    expect(plan.itemsWritten).toBe(12); // 3 days / 6 h
    const worker = new Worker(env.ctx, {
      concurrency: 4,
      waitSeconds: 0,
      threads: 1,
      counterFlushMs: 100,
      heartbeatMs: 200,
    });
    const done = worker.start();
    await waitUntil(async () => (await itemCounts(env.ctx, 'x1')).done === 12, {
      what: 'partitions done',
      timeoutMs: 60_000,
    });
    await worker.stop();
    await done;
    const manifest = await readManifest(s3, spec, 'x1');
    expect(manifest.partitions).toHaveLength(12);
    expect(manifest.totalRows).toBe(6000);
    const first = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: manifest.partitions[0]!.key }));
    const lines = gunzipSync(Buffer.from(await first.Body!.transformToByteArray()))
      .toString()
      .split('\n')
      .filter(Boolean);
    expect(lines.length).toBe(manifest.partitions[0]!.rows);
    const ev = JSON.parse(lines[0]!);
    expect(ev.created_at).toMatch(/^2024-11-01T00:00:00(\.\d+)?Z$/);
    expect(typeof ev.payload).toBe('object');
    expect(ev.amount).toMatch(/^\d+\.\d{4}$/);

    const run = (await getRun(env.ctx.meta, 'x1'))!;
    const v = await pgToS3Kind.verify!(run, spec, env.ctx, {
      reportPath: path.join(tmp, 'x1.jsonl'),
      log: env.ctx.log,
    });
    expect(v.clean, v.lines.join('\n')).toBe(true);
    expect(v.counts.ok).toBe(12);

    // replay a window that cuts partitions: same events as PostgreSQL, in (partition, aggregate, sequence) order
    const from = '2024-11-01T10:00:00Z';
    const to = '2024-11-02T07:30:00Z';
    const replayed = await collect((out) => replay(s3, spec, manifest, parseWindow(from, to), out));
    const expected = await db.pool.query(
      `SELECT event_id FROM events WHERE created_at >= $1 AND created_at < $2
       ORDER BY floor(extract(epoch FROM created_at) / 21600), aggregate_id, sequence`,
      [from, to],
    );
    expect(replayed.map((l) => String(JSON.parse(l).event_id))).toEqual(
      expected.rows.map((r: { event_id: string }) => String(r.event_id)),
    );

    // tampering is found: a changed row and a deleted object
    await db.pool.query(`UPDATE events SET payload = payload || '{"x":1}' WHERE event_id = 10`);
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: manifest.partitions[5]!.key }));
    const bad = await pgToS3Kind.verify!(run, spec, env.ctx, {
      reportPath: path.join(tmp, 'x1b.jsonl'),
      log: env.ctx.log,
    });
    expect(bad.clean).toBe(false);
    expect(bad.counts.hash_differs).toBe(1);
    expect(bad.counts.object_missing).toBe(1);
    await db.pool.query(`UPDATE events SET payload = payload - 'x' WHERE event_id = 10`);
    env.close();
  });

  it('rejects bad input before anything is enqueued', async () => {
    const env = await freshEnv(t.stack);
    const base = { from: db.url, table: 'events', timeColumn: 'created_at', to: `local:nobucket-${suffix()}/x` };
    await expect(pgS3SpecFromFlags({ ...base, partition: 'fortnight' })).rejects.toThrow(/--partition/);
    await expect(pgS3SpecFromFlags({ ...base, table: 'nope' })).rejects.toThrow(/does not exist/);
    const s1 = await pgS3SpecFromFlags({ ...base, timeColumn: 'nope' });
    await expect(planRun(env.ctx, { kind: 'pg-to-s3', runId: 'b1', spec: s1 })).rejects.toThrow(
      /unknown column "nope"/,
    );
    const s2 = await pgS3SpecFromFlags(base);
    await expect(planRun(env.ctx, { kind: 'pg-to-s3', runId: 'b2', spec: s2 })).rejects.toThrow(
      /bucket is not reachable or does not exist/,
    );
    expect(await getRun(env.ctx.meta, 'b1')).toBeUndefined();
    expect((await env.ctx.queue.depth()).visible).toBe(0);
    env.close();
  });
});
