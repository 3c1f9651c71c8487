/**
 * `convoy report` (issue #14 item 4) through the real CLI on a run of 3,000 items left the way a
 * fleet leaves them (done, failed with and without an HTTP status, pending): every item or only
 * the failed ones, CSV or NDJSON, gzipped, to stdout, a file or S3 (lib-storage Upload); bad
 * input exits 2 naming the flag with nothing written; the report only reads. And the stream is
 * page by page: the reader never runs more than a page or two ahead of what has been written.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { writeReport } from '../../coordinator/report.js';
import { makeS3Client } from '../../shared/s3-clients.js';
import { claimItem, completeItem, failItem } from '../../state/items.js';
import { putItems } from '../../state/item-bulk.js';
import { createRun, getRun } from '../../state/runs.js';
import { createBucket } from '../fixtures/s3-data.js';
import { runCli } from '../helpers/cli.js';
import type { TestEnv } from '../helpers/stack.js';
import { itemId, operatorFixture } from './fixture.js';

const f = operatorFixture();
const ITEMS = 3_000;
const FAILED = 30;
const DONE = 20;

/** 3,000 items: 20 done, 30 failed (every third with HTTP 503, one message with a comma and quotes), the rest pending. */
async function seed(env: TestEnv, runId: string): Promise<void> {
  await createRun(env.ctx.meta, { runId, kind: 's3-sync', spec: {} });
  await putItems(
    env.ctx.items,
    runId,
    Array.from({ length: ITEMS }, (_, i) => ({
      itemId: itemId(i),
      kind: 's3-sync',
      group: `bucket-${i % 3}`,
      spec: {},
    })),
    { skipExisting: false },
  );
  for (let i = 0; i < DONE + FAILED; i++) {
    const ref = { runId, itemId: itemId(i) };
    await claimItem(env.ctx.items, ref, 'w1', 60_000);
    if (i < DONE) await completeItem(env.ctx.items, ref, 'w1', { bytes: 10, objects: 1, durationMs: 5 });
    else
      await failItem(
        env.ctx.items,
        ref,
        'w1',
        {
          errorClass: i % 3 === 0 ? 'SERVICE_UNAVAILABLE' : 'ACCESS_DENIED',
          message: i === DONE ? 'denied, said "the bucket"' : `failed ${ref.itemId}`,
          retryable: i % 3 === 0,
          ...(i % 3 === 0 ? { httpStatus: 503 } : {}),
        },
        { retry: false },
      );
  }
}

describe('convoy report', () => {
  it('every item as CSV on stdout; failed ones as gzipped NDJSON to a file and to S3; reads only', async () => {
    await seed(f.env, 'rep-1');
    const before = await getRun(f.env.ctx.meta, 'rep-1');

    const all = await runCli(['report', '--run', 'rep-1'], { config: f.config });
    expect(all.code, all.stderr).toBe(0);
    const lines = all.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('itemId,group,status,errorClass,httpStatus,message,attempts,retryable,finishedAt');
    expect(lines).toHaveLength(ITEMS + 1);
    const byStatus = (st: string) => lines.filter((l) => l.split(',')[2] === st).length;
    expect([byStatus('done'), byStatus('failed'), byStatus('pending')]).toEqual([DONE, FAILED, ITEMS - DONE - FAILED]);
    expect(lines).toContain(
      `${itemId(21)},bucket-0,failed,SERVICE_UNAVAILABLE,503,failed ${itemId(21)},1,true,${lines
        .find((l) => l.startsWith(itemId(21)))!
        .split(',')
        .at(-1)}`,
    );
    expect(lines.find((l) => l.startsWith(itemId(20)))).toContain(',"denied, said ""the bucket""",1,false,');

    const dir = mkdtempSync(path.join(tmpdir(), 'convoy-report-'));
    const file = path.join(dir, 'failed.ndjson.gz');
    const failed = await runCli(
      ['report', '--run', 'rep-1', '--failed-only', '--format', 'ndjson', '--gzip', '--out', file],
      { config: f.config },
    );
    expect(failed.code, failed.stderr).toBe(0);
    expect(failed.stderr).toContain(`report of run rep-1: ${FAILED} item(s) written to ${file}`);
    const rows = gunzipSync(readFileSync(file))
      .toString()
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(rows).toHaveLength(FAILED);
    expect(rows.filter((r) => r.httpStatus === 503)).toHaveLength(10);
    expect(rows.find((r) => r.itemId === itemId(22))).toMatchObject({
      runId: 'rep-1',
      group: 'bucket-1',
      status: 'failed',
      errorClass: 'ACCESS_DENIED',
      httpStatus: null,
      message: `failed ${itemId(22)}`,
      attempts: 1,
    });

    const s3 = makeS3Client(f.env.config.remotes.local!);
    await createBucket(s3, 'reports');
    const up = await runCli(
      ['report', '--run', 'rep-1', '--gzip', '--out', 's3://reports/rep-1/all.csv.gz', '--remote', 'local'],
      { config: f.config },
    );
    expect(up.code, up.stderr).toBe(0);
    const obj = await s3.send(new GetObjectCommand({ Bucket: 'reports', Key: 'rep-1/all.csv.gz' }));
    const body = Buffer.from(await obj.Body!.transformToByteArray());
    expect(gunzipSync(body).toString().trimEnd().split('\n')).toHaveLength(ITEMS + 1);
    s3.destroy();

    // reads never write
    expect(await getRun(f.env.ctx.meta, 'rep-1')).toEqual(before);
  }, 120_000);

  it('bad input exits 2 naming the flag, and no file is written', async () => {
    await seed(f.env, 'rep-2');
    const dir = mkdtempSync(path.join(tmpdir(), 'convoy-report-'));
    const out = path.join(dir, 'r.csv');
    for (const [args, said] of [
      [['--format', 'xml', '--out', out], /--format: "xml" is not a report format; use csv or ndjson/],
      [['--out', 's3://reports'], /--out: "s3:\/\/reports" is not s3:\/\/bucket\/key/],
      [['--out', 's3://reports/k', '--remote', 'nowhere'], /--remote: unknown remote "nowhere"/],
    ] as const) {
      const r = await runCli(['report', '--run', 'rep-2', ...args], { config: f.config });
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(said);
      expect(existsSync(out)).toBe(false);
    }
    const missing = await runCli(['report', '--run', 'nope', '--out', out], { config: f.config });
    expect(missing.code).toBe(2);
    expect(existsSync(out)).toBe(false);
  }, 60_000);

  it('streams page by page: the items read from DynamoDB are never more than two pages ahead of the writer', async () => {
    await seed(f.env, 'rep-3');
    const pageSize = 100;
    // count the items DynamoDB returns, under the report's own reads
    let read = 0;
    const ddb = f.env.ctx.items.ddb;
    const counting = Object.create(ddb) as typeof ddb;
    counting.send = (async (...args: Parameters<typeof ddb.send>) => {
      const out = (await (ddb.send as (...a: unknown[]) => Promise<{ Items?: unknown[] }>)(...args)) ?? {};
      read += out.Items?.length ?? 0;
      return out;
    }) as typeof ddb.send;
    const ctx = { ...f.env.ctx, items: { ...f.env.ctx.items, ddb: counting } };
    let written = 0;
    let maxAhead = 0;
    const sink = new Writable({
      highWaterMark: 1,
      write(chunk: Buffer, _enc, done) {
        written += chunk.toString().split('\n').length - 1;
        maxAhead = Math.max(maxAhead, read - written);
        setImmediate(done); // a slow destination
      },
    });
    const r = await writeReport(ctx, { runId: 'rep-3', format: 'ndjson', pageSize }, sink);
    expect(r.rows).toBe(ITEMS);
    expect(written).toBe(ITEMS);
    expect(read).toBe(ITEMS);
    expect(maxAhead).toBeLessThanOrEqual(2 * pageSize);
    console.log(
      `report stream: ${ITEMS} rows in pages of ${pageSize}; DynamoDB reads at most ${maxAhead} rows ahead of the writer`,
    );
  }, 60_000);
});
