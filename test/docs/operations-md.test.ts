/**
 * docs/operations.md's commands, as written, on the test's own local stack: an s3-sync run planned
 * with --tpslimit and --max-failed, a worker, the three tunes while it works, status showing the
 * settings, and the three reports (stdout, a gzipped NDJSON file, S3).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeS3Client } from '../../shared/s3-clients.js';
import { createBucket, putObjects } from '../fixtures/s3-data.js';
import { waitUntil } from '../helpers/stack.js';
import { docCommand } from './doc-commands.js';
import { DocShell } from './doc-shell.js';

const DOC = 'docs/operations.md';
const shell = new DocShell();
let s3: S3Client;

async function run(text: string) {
  const r = await shell.run(docCommand(DOC, text));
  expect(r.code, `${text}\n${r.stdout}${r.stderr}`).toBe(0);
  return r;
}

beforeAll(async () => {
  const up = await shell.run(docCommand('README.md', 'npx convoy local up'));
  expect(up.code, up.stderr).toBe(0);
  s3 = makeS3Client({ ...shell.stackFile().remotes.local, name: 'local' } as never);
  await putObjects(
    s3,
    'photos',
    Array.from({ length: 30 }, (_, i) => ({ key: `2024/img-${i}.jpg`, size: 4096, contentType: 'image/jpeg' })),
  );
  await createBucket(s3, 'photos-copy');
  await createBucket(s3, 'reports');
}, 90_000);
afterAll(async () => {
  s3?.destroy();
  await shell.close();
}, 30_000);

describe('docs/operations.md', () => {
  it('plan, worker, tune while it works, status, and the three reports', async () => {
    await run(
      'convoy plan s3-sync --from local:photos --to local:photos-copy --run photos-1 --tpslimit 5 --max-failed 2%',
    );
    const worker = shell.start(docCommand(DOC, 'convoy worker --concurrency 8'));
    const t1 = await run('convoy tune --run photos-1 --tpslimit 200 --concurrency 16');
    expect(t1.stdout).toContain('concurrency none -> 16, tpslimit 5 -> 200');
    await run('convoy tune --run photos-1 --bwlimit 50MiB --max-failed 500');
    await run('convoy tune --run photos-1 --tpslimit off');
    await waitUntil(
      async () =>
        JSON.parse((await shell.run('convoy status --run photos-1 --json')).stdout || '{}').run?.state === 'done',
      { timeoutMs: 60_000, what: `run photos-1 done; worker: ${worker.output()}` },
    );
    worker.kill('SIGTERM');
    expect(await worker.exited).toBe(0);

    const status = await run('convoy status --run photos-1');
    expect(status.stdout).toContain(
      'settings: concurrency 16 (tuned), bwlimit 50 MiB/s (tuned), tpslimit off (tuned), max-failed 500 (tuned) [tuned 3 time(s)]',
    );
    const failedOnly = await run('convoy report --run photos-1 --failed-only');
    expect(failedOnly.stdout).toBe('itemId,group,status,errorClass,httpStatus,message,attempts,retryable,finishedAt\n');
    await run('convoy report --run photos-1 --format ndjson --gzip --out photos-1.ndjson.gz');
    const rows = gunzipSync(readFileSync(path.join(shell.cwd, 'photos-1.ndjson.gz')))
      .toString()
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.every((r) => r.status === 'done' && r.runId === 'photos-1')).toBe(true);
    await run('convoy report --run photos-1 --gzip --out s3://reports/photos-1.csv.gz --remote local');
    const obj = await s3.send(new GetObjectCommand({ Bucket: 'reports', Key: 'photos-1.csv.gz' }));
    const csv = gunzipSync(Buffer.from(await obj.Body!.transformToByteArray())).toString();
    expect(csv.trimEnd().split('\n')).toHaveLength(rows.length + 1);
  }, 180_000);
});
