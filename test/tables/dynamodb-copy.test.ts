import { GetItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planRun } from '../../coordinator/plan.js';
import '../../worker/jobs/builtin.js';
import { dynamodbCopyKind } from '../../worker/jobs/dynamodb-copy/job.js';
import { copySpecFromFlags } from '../../worker/jobs/dynamodb-copy/plan-command.js';
import { dryRunCopy } from '../../worker/jobs/dynamodb-copy/preflight.js';
import { getItem } from '../../state/items.js';
import type { ItemRow } from '../../state/item-row.js';
import type { RunRow } from '../../state/runs.js';
import { copySegment } from '../../worker/jobs/dynamodb-copy/handler.js';
import { countTable } from '../../worker/jobs/dynamodb-copy/verify.js';
import { getRun } from '../../state/runs.js';
import { Worker } from '../../worker/worker.js';
import { runCli, writeCliConfig } from '../helpers/cli.js';
import { freshEnv, startTestStack, waitUntil, type TestStack } from '../helpers/stack.js';
import { createTable, ddbClient, itemCounts, receiptItem, seedItems, suffix } from './helpers.js';

let t: TestStack;
const tmp = mkdtempSync(path.join(tmpdir(), 'convoy-copy-'));
beforeAll(async () => {
  t = await startTestStack();
});
afterAll(async () => t?.close());

async function tables(n: number, make = receiptItem) {
  const client = ddbClient(t.stack);
  const s = suffix();
  const from = `dev-${s}`;
  const to = `prod-${s}`;
  await createTable(client, from, { hash: 'PK', range: 'SK' });
  await createTable(client, to, { hash: 'PK', range: 'SK' });
  await seedItems(client, from, n, make);
  return { client, from, to };
}

describe('dynamodb-copy', () => {
  it('copies every item through the rules, resumably, and verifies clean', async () => {
    const env = await freshEnv(t.stack);
    const { client, from, to } = await tables(3000);
    const spec = await copySpecFromFlags({
      from: `local:${from}`,
      to: `local:${to}`,
      segments: 4,
      pageSize: 200,
      rewrite: ['dev-raw-bucket=prod-raw-bucket', 'dev-cdn-bucket=prod-cdn-bucket'],
      rename: ['n=number'],
      drop: ['legacy'],
      ttl: 'ttl:recompute=86400',
    });
    const T = Date.now();
    const lap = (w: string) => process.env.DEBUG_TIMING && console.log(w, Date.now() - T);
    lap('seeded');
    const dry = await dryRunCopy(spec, env.config);
    lap('dry');
    expect(dry.totalItems).toBe(3000);
    expect(dry.segments).toHaveLength(4);
    await planRun(env.ctx, { kind: 'dynamodb-copy', runId: 'c1', spec });
    const worker = new Worker(env.ctx, {
      concurrency: 4,
      waitSeconds: 0,
      threads: 1,
      counterFlushMs: 100,
      heartbeatMs: 200,
    });
    const done = worker.start();
    await waitUntil(async () => (await itemCounts(env.ctx, 'c1')).done === 4, {
      what: '4 segments done',
      timeoutMs: 60_000,
    });
    lap('copied');
    await worker.stop();
    await done;
    lap('stopped');
    const got = await client.send(
      new GetItemCommand({ TableName: to, Key: { PK: { S: 'IMAGE#0000003' }, SK: { S: 'RECEIPT' } } }),
    );
    expect(got.Item?.raw_s3?.S).toBe('s3://prod-raw-bucket/images/0000003.png');
    expect(got.Item?.meta?.M?.cdn?.S).toBe('https://prod-cdn-bucket.example/0000003.jpg');
    expect(got.Item?.meta?.M?.tags?.L?.[0]?.S).toBe('prod-raw-bucket');
    expect(got.Item?.buckets?.SS?.sort()).toEqual(['prod-cdn-bucket', 'prod-raw-bucket']);
    expect(got.Item?.number?.N).toBe('3');
    expect(got.Item?.n).toBeUndefined();
    expect(got.Item?.legacy).toBeUndefined();
    expect(Number(got.Item?.ttl?.N)).toBe(Math.floor(spec.runStartedAtMs / 1000) + 86400);
    const seg = await getItem(env.ctx.items, 'c1', 'segment:0/4');
    expect(seg?.metrics?.pages).toBeGreaterThan(1);
    const run = (await getRun(env.ctx.meta, 'c1'))!;
    const summary = await dynamodbCopyKind.verify!(run, spec, env.ctx, {
      reportPath: path.join(tmp, 'c1.jsonl'),
      log: env.ctx.log,
    });
    lap('verified');
    expect(summary.clean, summary.lines.join('\n')).toBe(true);
    expect(summary.counts.ok).toBe(4);
    expect(summary.counts.sample_ok).toBeGreaterThan(50);
    env.close();
  });

  it('a transform that throws on one row fails only that segment, naming the row; an item over 400 KB likewise', async () => {
    const env = await freshEnv(t.stack);
    const { from, to } = await tables(400);
    const mod = path.join(tmp, 'bad-transform.mjs');
    writeFileSync(
      mod,
      `export default (item) => { if (item.PK === 'IMAGE#0000005') throw new Error('cannot handle five'); if (item.PK === 'IMAGE#0000077') return { ...item, blob: 'x'.repeat(410 * 1024) }; return { ...item, copied: true }; };`,
    );
    const spec = await copySpecFromFlags({ from: `local:${from}`, to: `local:${to}`, segments: 8, transform: mod });
    await planRun(env.ctx, { kind: 'dynamodb-copy', runId: 'bad', spec });
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
        const s = await itemCounts(env.ctx, 'bad');
        return s.done + s.failed === 8 ? s : undefined;
      },
      { what: 'all segments terminal', timeoutMs: 60_000 },
    );
    await worker.stop();
    await done;
    expect(st.failed).toBeGreaterThanOrEqual(1);
    expect(st.failed).toBeLessThanOrEqual(2);
    const failed: { errorClass: string; message: string }[] = [];
    for (let n = 0; n < 8; n++) {
      const it = await getItem(env.ctx.items, 'bad', `segment:${n}/8`);
      if (it?.status === 'failed') failed.push(it.lastError!);
    }
    const classes = failed.map((f) => f.errorClass).sort();
    expect(classes).toContain('TRANSFORM_FAILED');
    expect(failed.find((f) => f.errorClass === 'TRANSFORM_FAILED')!.message).toContain('IMAGE#0000005');
    const tooBig = failed.find((f) => f.errorClass === 'ITEM_TOO_LARGE');
    if (tooBig) expect(tooBig.message).toContain('IMAGE#0000077');
    else expect(failed.find((f) => f.message.includes('IMAGE#0000077'))).toBeDefined();
    env.close();
  });

  it('a segment resumes after the last evaluated key saved on its item row', async () => {
    const env = await freshEnv(t.stack);
    const { client, from, to } = await tables(600);
    const spec = await copySpecFromFlags({ from: `local:${from}`, to: `local:${to}`, segments: 1, pageSize: 100 });
    // what a crashed first attempt left: two pages written and checkpointed
    const first = await client.send(new ScanCommand({ TableName: from, Segment: 0, TotalSegments: 1, Limit: 200 }));
    const item = {
      runId: 'r',
      itemId: 'segment:0/1',
      kind: 'dynamodb-copy',
      group: from,
      status: 'leased',
      attempts: 2,
      spec: { segment: 0, total: 1 },
      createdAtMs: 0,
      updatedAtMs: 0,
      checkpoint: { lastKey: first.LastEvaluatedKey, scanned: 200, written: 200, dropped: 0, bytes: 0, pages: 2 },
    } as ItemRow;
    const saved: unknown[] = [];
    const out = await copySegment(item, {
      ctx: env.ctx,
      run: { runId: 'r' } as RunRow,
      currentRun: async () => ({ runId: 'r' }) as RunRow,
      spec,
      signal: new AbortController().signal,
      assertLease: () => undefined,
      log: env.ctx.log,
      pool: undefined as never,
      transfers: (fn) => fn(),
      addChildren: async () => 0,
      saveCheckpoint: async (cp) => void saved.push(cp),
    });
    expect(out.objects).toBe(600); // 200 before the crash + 400 now
    expect(await countTable(client, to)).toBe(400); // only the items after the saved key were read and written
    expect(saved.length).toBe(4); // pages 3..6; the empty 7th page (Limit hit exactly) ends it
    env.close();
  });

  it('rejects bad input before anything is enqueued', async () => {
    const env = await freshEnv(t.stack);
    const { from, to } = await tables(30);
    await expect(
      copySpecFromFlags({ from: `local:${from}`, to: `local:${to}`, transform: path.join(tmp, 'nope.mjs') }),
    ).rejects.toThrow(/cannot read the module/);
    const broken = path.join(tmp, 'broken.mjs');
    writeFileSync(broken, 'export default (item => ;');
    await expect(copySpecFromFlags({ from: `local:${from}`, to: `local:${to}`, transform: broken })).rejects.toThrow(
      /does not load/,
    );
    const noFn = path.join(tmp, 'nofn.mjs');
    writeFileSync(noFn, 'export const x = 1;');
    await expect(copySpecFromFlags({ from: `local:${from}`, to: `local:${to}`, transform: noFn })).rejects.toThrow(
      /must export a function/,
    );
    const spec = await copySpecFromFlags({ from: `local:missing-table`, to: `local:${to}` });
    await expect(planRun(env.ctx, { kind: 'dynamodb-copy', runId: 'x1', spec })).rejects.toThrow(/does not exist/);
    const allBad = path.join(tmp, 'allbad.mjs');
    writeFileSync(allBad, 'export default (item) => ({ nokey: 1 });');
    const spec2 = await copySpecFromFlags({ from: `local:${from}`, to: `local:${to}`, transform: allBad });
    await expect(planRun(env.ctx, { kind: 'dynamodb-copy', runId: 'x2', spec: spec2 })).rejects.toThrow(
      /none of .* sampled/,
    );
    expect(await getRun(env.ctx.meta, 'x1')).toBeUndefined();
    expect(await getRun(env.ctx.meta, 'x2')).toBeUndefined();
    expect((await env.ctx.queue.depth()).visible).toBe(0);
    await expect(copySpecFromFlags({ from: 'nocolon', to: `local:${to}` })).rejects.toThrow(/remote:table/);
    await expect(
      copySpecFromFlags({ from: 'nosuchremote:abc', to: `local:${to}` }).then((s) =>
        planRun(env.ctx, { kind: 'dynamodb-copy', runId: 'x3', spec: s }),
      ),
    ).rejects.toThrow(/unknown remote/);
    env.close();
  });
});

describe('dynamodb-copy: convoy plan dynamodb-copy --work (the real CLI, no worker process)', () => {
  it('plans and copies the table in one process, rewriting on the way; exit 0 with the status', async () => {
    const env = await freshEnv(t.stack);
    const { client, from, to } = await tables(400);
    const config = writeCliConfig(env);
    const r = await runCli(
      [
        'plan',
        'dynamodb-copy',
        '--from',
        `local:${from}`,
        '--to',
        `local:${to}`,
        '--rewrite',
        'dev-raw-bucket=prod-raw-bucket',
        '--segments',
        '3',
        '--run',
        'copy-work',
        '--work',
      ],
      { config },
    );
    expect(r.stderr).toBe('');
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toMatch(/^run copy-work: 3 segment item\(s\) enqueued$/m);
    expect(r.stdout).toMatch(/^run copy-work \(dynamodb-copy\) state=done$/m);
    expect(r.stdout).toMatch(/^ {2}done +3 +100\.0%$/m);
    expect(await countTable(client, to)).toBe(400);
    const scanned = await client.send(new ScanCommand({ TableName: to, Limit: 50 }));
    const text = JSON.stringify(scanned.Items);
    expect(text).not.toContain('dev-raw-bucket');
    expect(text).toContain('prod-raw-bucket');
    env.close();
  });

  it('--work with --dry-run: exit 2 before anything is read', async () => {
    const env = await freshEnv(t.stack);
    const r = await runCli(
      ['plan', 'dynamodb-copy', '--from', 'local:no-such', '--to', 'local:none', '--dry-run', '--work'],
      { config: writeCliConfig(env) },
    );
    expect([r.code, r.stderr]).toEqual([
      2,
      'convoy: --work cannot be combined with --dry-run: a dry run plans no run to work; drop one of the two\n',
    ]);
    env.close();
  });
});
