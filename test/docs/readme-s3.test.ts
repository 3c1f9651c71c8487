/**
 * README.md's "The local stack" and "s3-sync" blocks, run as written on a
 * local stack the test starts with `convoy local up --extra-s3 minio`: "minio" is that second S3
 * endpoint and "aws" a remote in ./convoy.config.json naming the stack's own S3 (only endpoints
 * differ, README "Running against AWS"). Checked as an operator would: `status --json` counts,
 * `verify` exit codes, the monitor's JSON, and what the destination buckets hold.
 */
import { DeleteObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeS3Client } from '../../shared/s3-clients.js';
import { lakehouseObjects, putObjects, type GeneratedObject } from '../fixtures/s3-data.js';
import { waitUntil } from '../helpers/stack.js';
import { docCommand } from './doc-commands.js';
import { DocShell, type Background } from './doc-shell.js';

const shell = new DocShell();
const LAKEHOUSE_BUCKETS = ['bronze', 'silver', 'gold', 'checkpoints'];
let minio: S3Client;
let aws: S3Client;
let workers: Background[] = [];
const seeded: Record<string, GeneratedObject[]> = {
  bronze: lakehouseObjects({ tables: 2, partsPerTable: 12, partSize: 4096 }),
  silver: lakehouseObjects({ tables: 2, partsPerTable: 6, partSize: 8192 }),
  gold: lakehouseObjects({ tables: 1, partsPerTable: 4, partSize: 8192 }),
  // one object above the 8 MiB multipart threshold: the streamed multipart path
  checkpoints: [
    { key: 'simulation/checkpoint-0001.json.gz', size: 20_000, contentType: 'application/gzip' },
    { key: 'simulation/state-dump.bin', size: 9 * 1024 * 1024, contentType: 'application/octet-stream' },
  ],
};

async function keys(s3: S3Client, bucket: string): Promise<string[]> {
  const out = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
  return (out.Contents ?? []).map((o) => o.Key!).sort();
}

async function ok(cmd: string): Promise<string> {
  const r = await shell.run(cmd);
  expect(r.code, `${cmd}\n${r.stdout}${r.stderr}`).toBe(0);
  return r.stdout;
}

interface Status {
  run: { state: string };
  total: number;
  counts: Record<string, number>;
  failuresByClass: Record<string, number>;
}

/** Plan with the doc's command, then wait (polling `status --json`) for the running workers to finish the run. */
async function planAndFinish(cmd: string): Promise<{ runId: string; status: Status }> {
  const out = await ok(cmd);
  const runId = /^run (\S+): \d+ item\(s\) enqueued/m.exec(out)?.[1];
  expect(runId, out).toBeTruthy();
  const status = await waitUntil(
    async () => {
      const s = JSON.parse(await ok(`convoy status --run ${runId} --json`)) as Status;
      return ['done', 'failed'].includes(s.run.state) || s.counts.failed > 0 ? s : undefined;
    },
    {
      timeoutMs: 90_000,
      intervalMs: 500,
      what: `run ${runId} to finish; workers:\n${workers.map((w) => w.output()).join('\n')}`,
    },
  );
  return { runId: runId!, status };
}

beforeAll(async () => {
  // README: `local up` with a second S3 endpoint; a second `local up` finds the running stack
  await ok(docCommand('README.md', 'npx convoy local up --extra-s3 minio'));
  expect(await ok(docCommand('README.md', 'npx convoy local up'))).toContain('local stack running');
  const status = await ok(docCommand('README.md', 'npx convoy local status'));
  expect(status).toMatch(/remotes\s+local, minio/);
  const stack = shell.stackFile();
  shell.writeConfig({ remotes: { aws: { ...stack.remotes.local } } });
  minio = makeS3Client({ ...stack.remotes.minio, name: 'minio' } as never);
  aws = makeS3Client({ ...stack.remotes.local, name: 'aws' } as never);
  for (const b of LAKEHOUSE_BUCKETS) await putObjects(minio, `rideshare-${b}`, seeded[b]!);
  // the dev-to-prod copy's buckets: data with JSON and Delta logs to exclude; snapshot folders
  await putObjects(aws, 'dev-raw', [
    { key: 'rides/2026/part-0.parquet', size: 1000, contentType: 'application/octet-stream' },
    { key: 'rides/2026/part-1.parquet', size: 1000, contentType: 'application/octet-stream' },
    { key: 'rides/2026/manifest.json', size: 100, contentType: 'application/json' },
    { key: 'events/2026-11-01.ndjson', size: 100, contentType: 'application/x-ndjson' },
    { key: 'tables/trips/delta/00001.parquet', size: 100, contentType: 'application/octet-stream' },
    { key: 'readme.txt', size: 10, contentType: 'text/plain' },
  ]);
  await putObjects(aws, 'dev-chroma', [
    { key: 'snapshots/lines/2026-11-01/index.bin', size: 500, contentType: 'application/octet-stream' },
    { key: 'snapshots/lines/2026-11-20/index.bin', size: 500, contentType: 'application/octet-stream' },
    { key: 'snapshots/lines/2026-11-20/meta.json', size: 50, contentType: 'application/json' },
    { key: 'snapshots/words/2026-10-02/index.bin', size: 500, contentType: 'application/octet-stream' },
    { key: 'snapshots/words/2026-11-15/index.bin', size: 500, contentType: 'application/octet-stream' },
  ]);
  // the dev-to-prod copy's destinations exist already (its commands do not pass --create-buckets)
  await putObjects(aws, 'prod-raw', []);
  await putObjects(aws, 'prod-chroma', []);
  // "convoy worker ... # on as many hosts as you like": two, working every run below
  const worker = docCommand('README.md', 'convoy worker --concurrency 8 --transfers 64');
  workers = [shell.start(worker), shell.start(worker)];
}, 120_000);

afterAll(async () => {
  minio?.destroy();
  aws?.destroy();
  await shell.close();
}, 30_000);

describe('README.md: s3-sync (the lakehouse migration and the dev-to-prod copy) on the local stack', () => {
  it('the lakehouse migration: dry run, plan, workers, status, verify; the monitor counts every object', async () => {
    const dry = await ok(
      docCommand(
        'README.md',
        'convoy plan s3-sync --from minio:rideshare-{} --to aws:rideshare-123456789012-{} --buckets bronze silver gold checkpoints --create-buckets --dry-run',
      ),
    );
    expect(dry).toContain('DRY RUN: nothing was written');
    const objects = LAKEHOUSE_BUCKETS.reduce((a, b) => a + seeded[b]!.length, 0);
    const bytes = LAKEHOUSE_BUCKETS.reduce((a, b) => a + seeded[b]!.reduce((s, o) => s + o.size, 0), 0);
    expect(dry).toContain(`total to copy: ${objects} objects`);

    const plan = docCommand(
      'README.md',
      'convoy plan s3-sync --from minio:rideshare-{} --to aws:rideshare-123456789012-{} --buckets bronze silver gold checkpoints --create-buckets --run lakehouse-1',
    );
    const { runId, status } = await planAndFinish(plan);
    expect(runId).toBe('lakehouse-1');
    expect(status.run.state).toBe('done');
    expect(status.counts).toMatchObject({ done: status.total, failed: 0, pending: 0, leased: 0, retrying: 0 });
    expect(await ok(docCommand('README.md', 'convoy status --run lakehouse-1'))).toMatch(/done/);
    expect(await ok(docCommand('README.md', 'convoy verify --run lakehouse-1'))).toBeTruthy();
    const monitor = JSON.parse(await ok('convoy monitor --run lakehouse-1 --json')) as {
      counters: { objects: number; bytes: number };
      run: { state: string };
    };
    expect(monitor.run.state).toBe('done');
    expect(monitor.counters).toMatchObject({ objects, bytes });
    for (const b of LAKEHOUSE_BUCKETS)
      expect(await keys(aws, `rideshare-123456789012-${b}`)).toEqual(seeded[b]!.map((o) => o.key).sort());
    // planning the same --run again creates nothing twice
    expect(await ok(plan)).toContain('already planned');
  }, 150_000);

  it('the dev-to-prod copy: --exclude filters and --latest-prefix copy only what the doc says', async () => {
    const raw = await planAndFinish(
      docCommand(
        'README.md',
        'convoy plan s3-sync --from aws:dev-raw --to aws:prod-raw --exclude "*.json" --exclude "*.ndjson" --exclude "*/delta/*"',
      ),
    );
    expect(raw.status.counts.failed).toBe(0);
    expect(await keys(aws, 'prod-raw')).toEqual([
      'readme.txt',
      'rides/2026/part-0.parquet',
      'rides/2026/part-1.parquet',
    ]);
    expect((await shell.run(`convoy verify --run ${raw.runId}`)).code).toBe(0);

    const chroma = await planAndFinish(
      docCommand(
        'README.md',
        'convoy plan s3-sync --from aws:dev-chroma --to aws:prod-chroma --latest-prefix snapshots/lines snapshots/words',
      ),
    );
    expect(chroma.status.counts.failed).toBe(0);
    expect(await keys(aws, 'prod-chroma')).toEqual([
      'snapshots/lines/2026-11-20/index.bin',
      'snapshots/lines/2026-11-20/meta.json',
      'snapshots/words/2026-11-15/index.bin',
    ]);
    expect((await shell.run(`convoy verify --run ${chroma.runId}`)).code).toBe(0);
  }, 120_000);

  it('reverse sync: the same command the other way round; only multipart objects are copied again', async () => {
    const reverse = await planAndFinish(
      docCommand(
        'README.md',
        'convoy plan s3-sync --from aws:rideshare-123456789012-{} --to minio:rideshare-{} --buckets bronze silver gold checkpoints',
      ),
    );
    expect(reverse.status.counts.failed).toBe(0);
    const monitor = JSON.parse(await ok(`convoy monitor --run ${reverse.runId} --json`)) as {
      counters: { bytes: number };
    };
    // "Skip unchanged": same size and ETag, or the destination's convoy-source-etag. The original
    // multipart object in minio has neither (its ETag is of other parts, and it was not written by
    // convoy), so the way back copies it again; every single-part object is skipped.
    const multipart = LAKEHOUSE_BUCKETS.flatMap((b) => seeded[b]!).filter((o) => o.size > 8 * 1024 * 1024);
    expect(monitor.counters.bytes).toBe(multipart.reduce((a, o) => a + o.size, 0));
    expect((await shell.run(`convoy verify --run ${reverse.runId}`)).code).toBe(0);
  }, 120_000);

  it('mirroring deletions: verify reports the extras (and accepts them with --allow-extra); --delete --dry-run lists them; --delete removes them', async () => {
    // Delta Lake's vacuum: a data file disappears from the source after lakehouse-1 copied it
    const gone = seeded.bronze![0]!.key;
    await minio.send(new DeleteObjectCommand({ Bucket: 'rideshare-bronze', Key: gone }));
    expect((await shell.run(docCommand('README.md', 'convoy verify --run lakehouse-1'))).code).toBe(1);
    expect((await shell.run(docCommand('README.md', 'convoy verify --run lakehouse-1 --allow-extra'))).code).toBe(0);
    const dry = await ok(
      docCommand(
        'README.md',
        'convoy plan s3-sync --from minio:rideshare-{} --to aws:rideshare-123456789012-{} --buckets bronze silver gold checkpoints --delete --dry-run',
      ),
    );
    expect(dry.match(/^delete: .*$/gm)).toEqual([`delete: aws:rideshare-123456789012-bronze/${gone}`]);
    expect(await keys(aws, 'rideshare-123456789012-bronze')).toContain(gone); // a dry run deletes nothing
    const mirrored = await planAndFinish(
      docCommand(
        'README.md',
        'convoy plan s3-sync --from minio:rideshare-{} --to aws:rideshare-123456789012-{} --buckets bronze silver gold checkpoints --delete --run lakehouse-2',
      ),
    );
    expect(mirrored.runId).toBe('lakehouse-2');
    expect(mirrored.status.counts.failed).toBe(0);
    expect(await keys(aws, 'rideshare-123456789012-bronze')).toEqual(await keys(minio, 'rideshare-bronze'));
    expect((await shell.run('convoy verify --run lakehouse-2')).code).toBe(0);
  }, 120_000);

  it("a run's retry policy: given at plan time, shown by status", async () => {
    const planned = await planAndFinish(
      docCommand(
        'README.md',
        'convoy plan s3-sync --from minio:rideshare-{} --to aws:rideshare-123456789012-{} --buckets bronze silver gold checkpoints --run lakehouse-3 --max-attempts 8 --backoff-base-ms 1000 --backoff-cap-ms 60000',
      ),
    );
    expect(planned.runId).toBe('lakehouse-3');
    expect(planned.status.counts.failed).toBe(0);
    expect(await ok(docCommand('README.md', 'convoy status --run lakehouse-3'))).toContain(
      'retry policy: 8 attempt(s), backoff 1s..1m (full jitter)',
    );
  }, 120_000);

  it('one host, one command: `plan --work` plans and works the run, prints its status, exits 0; every bucket copied', async () => {
    const out = await ok(
      docCommand(
        'README.md',
        'convoy plan s3-sync --from minio:rideshare-{} --to aws:rideshare-copy-{} --buckets bronze silver gold checkpoints --create-buckets --work',
      ),
    );
    const runId = /^run (\S+): \d+ item\(s\) enqueued\. working it in this process$/m.exec(out)?.[1];
    expect(runId, out).toBeTruthy();
    expect(out).toMatch(new RegExp(`^run ${runId} \\(s3-sync\\) state=done$`, 'm'));
    expect(out).toMatch(/^ {2}failed +0 +0\.0%$/m);
    for (const b of LAKEHOUSE_BUCKETS)
      expect(await keys(aws, `rideshare-copy-${b}`), b).toEqual(await keys(minio, `rideshare-${b}`));
    expect((await shell.run(`convoy verify --run ${runId}`)).code).toBe(0);
  }, 120_000);

  it('workers exit 0 on SIGTERM; `local down` stops the stack', async () => {
    for (const w of workers) w.kill('SIGTERM');
    expect(await Promise.all(workers.map((w) => w.exited)), workers.map((w) => w.output()).join('\n')).toEqual([0, 0]);
    expect(await ok(docCommand('README.md', 'npx convoy local down'))).toContain('local stack stopped');
    const after = await shell.run(docCommand('README.md', 'npx convoy local status'));
    expect(after.code).toBe(3);
    expect(after.stdout).toContain('no local stack running');
  }, 60_000);
});
