/**
 * `convoy plan s3-sync --delete` (rclone sync / `aws s3 sync --delete`): destination keys the
 * source lacks are deleted, within the synced prefix and the filters only, after the copies; the
 * dry run lists them; verify explains extras and can accept them (--allow-extra).
 */
import { DeleteObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { putObjects } from '../fixtures/s3-data.js';
import { runCli, writeCliConfig } from '../helpers/cli.js';
import { optionsOnSurfaces } from '../helpers/run-surfaces.js';
import { listKeys, useTwoEndpointStack } from '../helpers/s3.js';
import { freshEnv, type TestStack } from '../helpers/stack.js';
import { cliFleet, itemTotals } from './cli-run.js';

let t: TestStack;
let minio: S3Client;
let local: S3Client;
useTwoEndpointStack((s) => ({ t, minio, local } = s));

describe('s3-sync --delete', () => {
  it('mirrors deletions within the prefix and filters, after the copies; dry run lists them; verify explains and accepts extras', async () => {
    const src = [
      'lake/a.txt',
      'lake/m.txt',
      ...Array.from({ length: 10 }, (_, i) => `lake/tbl/part-${String(i).padStart(3, '0')}.parquet`),
      'lake/tbl/_delta_log/000.json',
      'lake/gone/x.bin',
      'lake/gone/y.bin',
    ];
    await putObjects(
      minio,
      'del-src',
      src.map((key) => ({ key, size: 200, contentType: 'application/octet-stream' })),
    );
    const env = await freshEnv(t.stack);
    const config = writeCliConfig(env);
    const fleet = cliFleet(env, config);
    const sync = [
      '--from',
      'minio:del-src/lake/',
      '--to',
      'local:del-dst/lake/',
      '--exclude',
      '*.tmp',
      '--range-keys',
      '4',
    ];
    const first = await fleet.run('d1', [...sync, '--create-buckets']);
    expect(first.counts.failed).toBe(0);
    expect((await itemTotals(env, 'd1')).objects).toBe(src.length);

    // vacuum-like deletions in the source: the last key of a prefix, one in the middle, a whole
    // prefix, the last top-level key; and keys only the destination has
    const vacuumed = [
      'lake/tbl/part-003.parquet',
      'lake/tbl/part-009.parquet',
      'lake/gone/x.bin',
      'lake/gone/y.bin',
      'lake/m.txt',
    ];
    for (const key of vacuumed) await minio.send(new DeleteObjectCommand({ Bucket: 'del-src', Key: key }));
    for (const key of [
      'lake/zz-stray.txt',
      'lake/tbl/zz/stray.bin',
      'lake/scratch.tmp',
      'outside/keep.bin',
      'lakehouse.txt',
    ]) {
      await local.send(new PutObjectCommand({ Bucket: 'del-dst', Key: key, Body: 'x' }));
    }
    const expectedGone = [...vacuumed, 'lake/zz-stray.txt', 'lake/tbl/zz/stray.bin'].sort();

    const v1 = await runCli(['verify', '--run', 'd1'], { config });
    expect(v1.code).toBe(1);
    expect(v1.stdout).toContain('extra 7');
    expect(v1.stdout).toMatch(
      /7 destination object\(s\) the source lacks were left in place: the run was planned without --delete\. Plan again with --delete to remove them, or accept them with convoy verify --allow-extra/,
    );
    const v1ok = await runCli(['verify', '--run', 'd1', '--allow-extra'], { config });
    expect(v1ok.stdout).toMatch(/verify d1: CLEAN \(7 extra object\(s\) accepted: --allow-extra\)/);
    expect(v1ok.code).toBe(0);

    const dry = await runCli(['plan', 's3-sync', ...sync, '--delete', '--dry-run'], { config });
    expect(dry.code, dry.stderr).toBe(0);
    const wouldDelete = dry.stdout
      .split('\n')
      .filter((l) => l.startsWith('delete: '))
      .map((l) => l.slice('delete: local:del-dst/'.length))
      .sort();
    expect(wouldDelete).toEqual(expectedGone);
    expect(dry.stdout).toMatch(/total to delete: 7 objects/);
    expect((await listKeys(local, 'del-dst')).has('lake/zz-stray.txt')).toBe(true); // a dry run deletes nothing

    await fleet.run('d2', [...sync, '--delete']);
    const after = [...(await listKeys(local, 'del-dst')).keys()].sort();
    const srcNow = src.filter((k) => !vacuumed.includes(k));
    // excluded by the filter, or outside the synced prefix: never deleted
    expect(after).toEqual([...srcNow, 'lake/scratch.tmp', 'outside/keep.bin', 'lakehouse.txt'].sort());
    expect((await itemTotals(env, 'd2')).deleted).toBe(7);
    const v2 = await runCli(['verify', '--run', 'd2'], { config });
    expect(v2.stdout).toContain('verify d2: CLEAN');
    expect(v2.code).toBe(0);
    // what the run does besides copying, the same line on status, the monitor's summary and the API
    const options =
      'delete (mirrors deletions), tags copy, storage-class bucket default, sse bucket default, rate-control adaptive';
    expect(await optionsOnSurfaces(['--config', config], 'd2')).toEqual({
      status: options,
      monitor: options,
      api: options,
    });

    // the coordinator's listing mode too, and a source prefix emptied entirely
    for (const key of srcNow.filter((k) => k.startsWith('lake/tbl/')))
      await minio.send(new DeleteObjectCommand({ Bucket: 'del-src', Key: key }));
    await fleet.run('d3', [...sync, '--delete', '--list-mode', 'coordinator']);
    expect([...(await listKeys(local, 'del-dst')).keys()].sort()).toEqual([
      'lake/a.txt',
      'lake/scratch.tmp',
      'lakehouse.txt',
      'outside/keep.bin',
    ]);
    expect((await itemTotals(env, 'd3')).deleted).toBe(srcNow.filter((k) => k.startsWith('lake/tbl/')).length);
    await fleet.stop();
    env.close();
  }, 180_000);
});
