/**
 * The run lifecycle as an operator meets it, through the real CLI and the HTTP API:
 *  - a run becomes `done` in the write path, when its last item ends, with nobody reading it;
 *  - reads (status, monitor, the API's GETs, /metrics) never write, not even to finish a run;
 *  - a finished run cannot be "cancelled";
 *  - re-planning a run id with another spec exits 2 naming the difference, the same spec is a no-op;
 *  - a killed plan's counts are made exact when it is resumed;
 *  - a spec larger than a DynamoDB item (a 100k-customer file's worth) is stored and read back.
 */
import { spawn } from 'node:child_process';
import type { S3Client } from '@aws-sdk/client-s3';
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeS3Client } from '../../shared/s3-clients.js';
import { putItems } from '../../state/item-bulk.js';
import { createRun, getRun, listRuns } from '../../state/runs.js';
import { metaKeys } from '../../state/schema.js';
import { createBucket, putObjects } from '../fixtures/s3-data.js';
import { CLI, exited, runCli, spawnWorker, writeCliConfig } from '../helpers/cli.js';
import { freshEnv, startTestStack, waitUntil, type TestEnv, type TestStack } from '../helpers/stack.js';

let t: TestStack;
let env: TestEnv;
let config: string;

beforeAll(async () => {
  t = await startTestStack({ extraS3: ['minio'] });
  const minio: S3Client = makeS3Client({ ...t.stack.remotes.minio!, name: 'minio' });
  await putObjects(
    minio,
    'life-src',
    Array.from({ length: 40 }, (_, i) => ({
      key: `data/part-${String(i).padStart(3, '0')}.bin`,
      size: 2048,
      contentType: 'application/octet-stream',
    })),
  );
  minio.destroy();
  const local: S3Client = makeS3Client({ ...t.stack.remotes.local!, name: 'local' });
  await createBucket(local, 'life-dst');
  local.destroy();
  env = await freshEnv(t.stack);
  config = writeCliConfig(env);
});
afterAll(async () => {
  env?.close();
  await t?.close();
});

/** The run row as stored: read with GetItem, not through any convoy read path. */
async function rawRun(runId: string): Promise<Record<string, unknown> | undefined> {
  const out = await env.ctx.meta.ddb.send(
    new GetCommand({ TableName: env.ctx.meta.table, Key: metaKeys.run(runId), ConsistentRead: true }),
  );
  return out.Item;
}

async function planAndWork(runId: string, extra: string[] = []) {
  const plan = await runCli(
    [
      'plan',
      's3-sync',
      '--from',
      'minio:life-src',
      '--to',
      'local:life-dst',
      '--range-keys',
      '10',
      '--run',
      runId,
      ...extra,
    ],
    { config },
  );
  expect(plan.code, plan.stderr).toBe(0);
  const worker = spawnWorker(config, ['--wait-seconds', '1', '--exit-when-idle', '3000', '--run', runId]);
  expect(await exited(worker), worker.output()).toBe(0);
}

describe('the run lifecycle, as an operator drives it', () => {
  it('a run is done when its last item ends, with nobody reading it; a finished run cannot be cancelled', async () => {
    const started = Date.now();
    await planAndWork('life-1');
    // No status, monitor or API read has happened: the worker's write made the run done.
    const row = await rawRun('life-1');
    expect(row).toMatchObject({ state: 'done', planComplete: true });
    expect(row!.finishedAtMs as number).toBeGreaterThanOrEqual(started);
    const finishedAt = row!.finishedAtMs;
    const status = await runCli(['status', '--run', 'life-1', '--json'], { config });
    expect(JSON.parse(status.stdout).run).toMatchObject({ state: 'done', finishedAtMs: finishedAt });
    const cancel = await runCli(['cancel', '--run', 'life-1'], { config });
    expect(cancel.code).toBe(2);
    expect(cancel.stderr).toMatch(/run life-1 is done: there is nothing left to cancel/);
    expect((await rawRun('life-1'))!.state).toBe('done');
  }, 120_000);

  it('reads never write: status, monitor, the API and /metrics leave a finished-but-unmarked run as it is; reconcile (a write command) finishes it', async () => {
    await planAndWork('life-2');
    // Put the run back to `running` as a crash between the last item and the finish check would leave it.
    await env.ctx.meta.ddb.send(
      new UpdateCommand({
        TableName: env.ctx.meta.table,
        Key: metaKeys.run('life-2'),
        UpdateExpression: 'SET #s = :r REMOVE finishedAtMs',
        ExpressionAttributeNames: { '#s': 'state' },
        ExpressionAttributeValues: { ':r': 'running' },
      }),
    );
    const before = await rawRun('life-2');
    for (const args of [
      ['status', '--run', 'life-2'],
      ['status', '--run', 'life-2', '--json'],
      ['monitor', '--run', 'life-2', '--json'],
      ['status'],
    ]) {
      const r = await runCli(args, { config });
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
    }
    const serve = spawnServe();
    try {
      const base = await serve.url;
      for (const p of ['/runs', '/runs/life-2', '/metrics', '/healthz']) {
        const res = await fetch(base + p);
        expect(res.status, p).toBeLessThan(500);
      }
    } finally {
      serve.child.kill('SIGTERM');
      await exited(serve.child);
    }
    expect(await rawRun('life-2')).toEqual(before);
    const rec = await runCli(['reconcile', '--run', 'life-2'], { config });
    expect(rec.code, rec.stderr).toBe(0);
    expect((await rawRun('life-2'))!.state).toBe('done');
  }, 180_000);

  it('re-planning a run id: the same spec is a no-op, another spec exits 2 with the difference and writes nothing', async () => {
    const args = [
      'plan',
      's3-sync',
      '--from',
      'minio:life-src',
      '--to',
      'local:life-dst',
      '--run',
      'life-3',
      '--exclude',
      '*.tmp',
    ];
    expect((await runCli(args, { config })).code).toBe(0);
    const rowBefore = await rawRun('life-3');
    const again = await runCli(args, { config });
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/already planned/);
    const other = await runCli([...args.slice(0, -1), '*.json'], { config });
    expect(other.code).toBe(2);
    expect(other.stderr).toMatch(/run life-3 was planned with a different spec/);
    expect(other.stderr).toMatch(/exclude.*\*\.tmp.*\*\.json/);
    expect(other.stderr).toMatch(/new run/);
    expect(other.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(await rawRun('life-3')).toEqual(rowBefore);
  }, 120_000);

  it('a plan killed between a batch write and its count is recounted exactly when resumed', async () => {
    // What a kill -9 leaves: a run in `planning`, rows written, the count short (here: 0 of 3).
    const spec = { n: 3 };
    await createRun(env.ctx.meta, { runId: 'life-4', kind: 'test-recount', spec });
    await putItems(
      env.ctx.items,
      'life-4',
      [0, 1, 2].map((i) => ({ itemId: `x-${i}`, kind: 'test-recount', group: 'g', spec: {} })),
      { skipExisting: false },
    );
    expect((await getRun(env.ctx.meta, 'life-4'))!.plannedItems).toBe(0);
    const { recountPlannedItems } = await import('../../state/runs.js');
    expect(await recountPlannedItems(env.ctx.meta, env.ctx.items, 'life-4')).toBe(3);
    expect((await getRun(env.ctx.meta, 'life-4'))!.plannedItems).toBe(3);
  });

  it('a spec larger than one DynamoDB item is stored in chunks and read back whole', async () => {
    const customers = Array.from(
      { length: 100_000 },
      (_, i) => `did:mailto:example.com:customer-${i}-${(i * 7919) % 100_003}`,
    );
    const spec = { target: { type: 'customers', customers } };
    expect(JSON.stringify(spec).length).toBeGreaterThan(400 * 1024);
    await createRun(env.ctx.meta, { runId: 'life-5', kind: 'uploads', spec });
    const back = await getRun(env.ctx.meta, 'life-5');
    expect(back!.spec).toEqual(spec);
    expect((await listRuns(env.ctx.meta)).some((r) => r.runId === 'life-5')).toBe(true);
  });
});

/** `convoy serve` on a free port: the real CLI in a child process; resolves its URL once it listens. */
function spawnServe() {
  let output = '';
  const child = spawn(process.execPath, [CLI, '--config', config, 'serve', '--port', '0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, CONVOY_API_TOKEN: '' },
  });
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const url = waitUntil(() => /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1], {
    what: 'serve to listen',
  });
  return { child, url };
}
