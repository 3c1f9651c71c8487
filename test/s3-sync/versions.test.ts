/**
 * `convoy plan s3-sync --all-versions` through the real CLI: every version of each key copied
 * oldest first into a versioned destination, delete markers mirrored with --delete, a re-run that
 * copies nothing, verify comparing version lists (and finding a tampered one), a destination that
 * is not versioned refused at plan.
 *
 * fauxqs (the embedded backend) has no bucket versioning, so the copying tests run on the aws-local
 * backend (radosgw: `npm run test:compat`, test/compat/vitest.config.ts) and are skipped on the
 * embedded one; the flag clashes are refused before any backend call and run on both.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  DeleteObjectCommand,
  GetBucketVersioningCommand,
  GetObjectCommand,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  CreateBucketCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { listRuns } from '../../state/runs.js';
import { docCommand } from '../docs/doc-commands.js';
import { CapacityProxy } from '../helpers/capacity-proxy.js';
import { runCli, writeCliConfig } from '../helpers/cli.js';
import { useTwoEndpointStack } from '../helpers/s3.js';
import { freshEnv, testBackend, type TestStack } from '../helpers/stack.js';
import { cliFleet, itemTotals } from './cli-run.js';

let t: TestStack;
let minio: S3Client;
let local: S3Client;
useTwoEndpointStack((s) => ({ t, minio, local } = s));

/** A key's versions on a bucket, oldest first: the body of each version, or DELETE for a marker. */
async function history(s3: S3Client, bucket: string, key: string): Promise<string[]> {
  const out = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: key }));
  const entries = [
    ...(out.Versions ?? [])
      .filter((v) => v.Key === key)
      .map((v) => ({ id: v.VersionId!, at: v.LastModified!, marker: false })),
    ...(out.DeleteMarkers ?? [])
      .filter((v) => v.Key === key)
      .map((v) => ({ id: v.VersionId!, at: v.LastModified!, marker: true })),
  ];
  // the test writes each version in its own second (below), so LastModified orders them here
  entries.sort((a, b) => a.at.getTime() - b.at.getTime());
  const bodies: string[] = [];
  for (const e of entries) {
    if (e.marker) bodies.push('DELETE');
    else {
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, VersionId: e.id }));
      bodies.push(await got.Body!.transformToString());
    }
  }
  return bodies;
}

async function versionIdsOf(s3: S3Client, bucket: string, key: string): Promise<string[]> {
  const out = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: key }));
  return (out.Versions ?? []).filter((v) => v.Key === key).map((v) => v.VersionId!);
}

describe('s3-sync --all-versions: bad input', () => {
  it.each([
    [['--latest-prefix', 'snapshots'], '--latest-prefix'],
    [['--size-only'], '--size-only'],
    [['--dry-run'], '--dry-run'],
  ])('--all-versions with %j: exit 2 naming both flags, nothing written', async (extra, flag) => {
    const env = await freshEnv(t.stack);
    const config = writeCliConfig(env);
    const r = await runCli(
      ['plan', 's3-sync', '--from', 'minio:any-src', '--to', 'local:any-dst', '--all-versions', ...extra],
      { config },
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`--all-versions cannot be combined with ${flag}`);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(await listRuns(env.ctx.meta)).toEqual([]);
    env.close();
  });
});

describe.skipIf(testBackend() !== 'aws-local')('s3-sync --all-versions (radosgw: versioned buckets)', () => {
  it('refuses a destination that is not versioned: exit 2, how to fix, nothing written', async () => {
    await minio.send(new CreateBucketCommand({ Bucket: 'plain-src' }));
    await local.send(new CreateBucketCommand({ Bucket: 'plain-dst' }));
    const env = await freshEnv(t.stack);
    const config = writeCliConfig(env);
    const r = await runCli(
      ['plan', 's3-sync', '--from', 'minio:plain-src', '--to', 'local:plain-dst', '--all-versions'],
      {
        config,
      },
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--all-versions: destination bucket local:plain-dst is not versioned');
    expect(r.stderr).toContain('put-bucket-versioning --bucket plain-dst');
    expect(await listRuns(env.ctx.meta)).toEqual([]);
    expect((await local.send(new GetBucketVersioningCommand({ Bucket: 'plain-dst' }))).Status).toBeUndefined();
    env.close();
  });

  it('copies every version oldest first, mirrors delete markers, re-runs copy nothing, verify compares versions', async () => {
    await minio.send(new CreateBucketCommand({ Bucket: 'contracts' }));
    await minio.send(
      new PutBucketVersioningCommand({ Bucket: 'contracts', VersioningConfiguration: { Status: 'Enabled' } }),
    );
    // each key's history, oldest first (DELETE: a delete marker); docs/ is a child prefix (a list
    // item), c.txt is directly under the bucket (a range the coordinator cuts)
    const histories: Record<string, string[]> = {
      'docs/a.txt': ['a-1', 'a-2 longer', 'a-3'],
      'docs/b.txt': ['b-1', 'DELETE', 'b-2'],
      'c.txt': ['c-1', 'c-2', 'DELETE'],
    };
    // interleaved, one step per key per second: the history() helper orders by LastModified
    for (let step = 0; step < 3; step++) {
      for (const [key, h] of Object.entries(histories)) {
        if (h[step] === 'DELETE') await minio.send(new DeleteObjectCommand({ Bucket: 'contracts', Key: key }));
        else await minio.send(new PutObjectCommand({ Bucket: 'contracts', Key: key, Body: h[step] }));
      }
      await new Promise((r) => setTimeout(r, 1_100)); // distinct LastModified seconds for history(), not synchronisation
    }
    for (const [key, h] of Object.entries(histories)) expect(await history(minio, 'contracts', key)).toEqual(h);

    const env = await freshEnv(t.stack);
    const config = writeCliConfig(env);
    const fleet = cliFleet(env, config);
    // docs/compat.md's command, with one range item per key (ranges and list items both at work)
    const documented = docCommand(
      'docs/compat.md',
      'convoy plan s3-sync --from minio:contracts --to local:contracts-copy --all-versions --delete --create-buckets',
    );
    const args = documented.split(' ').slice(3); // after "convoy plan s3-sync"
    const first = await fleet.run('v1', [...args, '--range-keys', '1']);
    const sync = [...args.filter((a) => a !== '--create-buckets'), '--range-keys', '1'];
    expect(first.counts.failed).toBe(0);
    // --create-buckets created the destination versioned
    expect((await local.send(new GetBucketVersioningCommand({ Bucket: 'contracts-copy' }))).Status).toBe('Enabled');
    for (const [key, h] of Object.entries(histories))
      expect(await history(local, 'contracts-copy', key), key).toEqual(h);
    const t1 = await itemTotals(env, 'v1');
    expect(t1.objects).toBe(7);
    expect(t1.deleteMarkers).toBe(2);
    // each copy records the source version it came from
    const srcIds = await versionIdsOf(minio, 'contracts', 'docs/a.txt');
    for (const id of await versionIdsOf(local, 'contracts-copy', 'docs/a.txt')) {
      const got = await local.send(
        new GetObjectCommand({ Bucket: 'contracts-copy', Key: 'docs/a.txt', VersionId: id }),
      );
      await got.Body!.transformToString();
      expect(srcIds).toContain(got.Metadata?.['convoy-source-version-id']);
    }

    // a re-run (a new run id) copies nothing and adds no delete marker
    await fleet.run('v2', sync);
    const t2 = await itemTotals(env, 'v2');
    expect(t2.objects ?? 0).toBe(0);
    expect(t2.deleteMarkers ?? 0).toBe(0);
    expect(t2.skipped).toBe(7);
    for (const [key, h] of Object.entries(histories))
      expect(await history(local, 'contracts-copy', key), key).toEqual(h);

    // status (and so the API's run detail and the monitor, which share its settings) says how
    const status = await runCli(['status', '--run', 'v1'], { config });
    expect(status.stdout).toContain('options: all versions (delete markers mirrored), tags copy');

    const clean = await runCli(['verify', '--run', 'v1'], { config });
    expect(clean.stdout).toContain('verify v1: CLEAN (all versions, delete markers)');
    expect(clean.stdout).toContain('versions: source 9  destination 9');
    expect(clean.code).toBe(0);

    // tamper: one destination version of docs/a.txt removed (the middle one)
    const dstIds = await versionIdsOf(local, 'contracts-copy', 'docs/a.txt'); // newest first
    await local.send(new DeleteObjectCommand({ Bucket: 'contracts-copy', Key: 'docs/a.txt', VersionId: dstIds[1] }));
    const report = path.join(mkdtempSync(path.join(tmpdir(), 'convoy-versions-')), 'v1-tampered.jsonl');
    const tampered = await runCli(['verify', '--run', 'v1', '--report', report], { config });
    expect(tampered.code).toBe(1);
    expect(tampered.stdout).toContain('DIFFERENCES FOUND');
    expect(tampered.stdout).toContain('versions_differ 1');
    const lines = readFileSync(report, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines[0]).toMatchObject({
      verdict: 'versions_differ',
      srcKey: 'docs/a.txt',
      srcVersions: 3,
      dstVersions: 2,
      firstDifference: 1,
    });

    // without --delete delete markers are not mirrored: only the object versions arrive
    await fleet.run('v3', [
      '--from',
      'minio:contracts',
      '--to',
      'local:contracts-nodel',
      '--all-versions',
      '--create-buckets',
    ]);
    for (const [key, h] of Object.entries(histories))
      expect(await history(local, 'contracts-nodel', key), key).toEqual(h.filter((b) => b !== 'DELETE'));
    const v3 = await runCli(['verify', '--run', 'v3'], { config });
    expect(v3.stdout).toContain('verify v3: CLEAN (all versions)');
    expect(v3.code).toBe(0);

    // within one endpoint and identity the versions are copied server-side (CopyObject of ?versionId=)
    await fleet.run('v4', [
      '--from',
      'local:contracts-copy',
      '--to',
      'local:contracts-back',
      '--all-versions',
      '--delete',
      '--create-buckets',
    ]);
    // (its source is the tampered copy: docs/a.txt lacks its middle version there)
    for (const key of Object.keys(histories))
      expect(await history(local, 'contracts-back', key), key).toEqual(await history(local, 'contracts-copy', key));
    const t4 = await itemTotals(env, 'v4');
    expect(t4.objects).toBe(6);
    expect(t4.bytesThroughWorker ?? 0).toBe(0);
    await fleet.stop();
    env.close();
  }, 240_000);
  it('adaptive rate control: a throttling destination cuts the fleet rate of --all-versions copies; every version arrives', async () => {
    await minio.send(new CreateBucketCommand({ Bucket: 'ledger' }));
    await minio.send(
      new PutBucketVersioningCommand({ Bucket: 'ledger', VersioningConfiguration: { Status: 'Enabled' } }),
    );
    // 30 keys x 3 versions; their order within a key is what the copier keeps, not tested here
    for (let v = 1; v <= 3; v++)
      await Promise.all(
        Array.from({ length: 30 }, (_, k) =>
          minio.send(new PutObjectCommand({ Bucket: 'ledger', Key: `entries/k${k}.txt`, Body: `k${k} v${v}` })),
        ),
      );
    // the destination endpoint behind a proxy admitting 15 PUT/s (503 SlowDown above, as S3 does)
    const proxy = await new CapacityProxy({ upstream: t.stack.remotes.local!.endpoint!, putsPerSecond: 15 }).start();
    const env = await freshEnv(t.stack);
    const config = writeCliConfig(env, { slow: { ...t.stack.remotes.local!, endpoint: proxy.url } });
    const fleet = cliFleet(env, config);
    try {
      await local.send(new CreateBucketCommand({ Bucket: 'ledger-copy' }));
      await local.send(
        new PutBucketVersioningCommand({ Bucket: 'ledger-copy', VersioningConfiguration: { Status: 'Enabled' } }),
      );
      const status = await fleet.run('va', ['--from', 'minio:ledger', '--to', 'slow:ledger-copy', '--all-versions'], {
        timeoutMs: 180_000,
      });
      expect(status.counts.done).toBe(status.total);
      expect(proxy.stats.throttled).toBeGreaterThan(0);
      for (let k = 0; k < 30; k++)
        expect(await versionIdsOf(local, 'ledger-copy', `entries/k${k}.txt`), `entries/k${k}.txt`).toHaveLength(3);
      const st = await runCli(['status', '--run', 'va'], { config });
      const line = st.stdout.split('\n').find((l) => l.startsWith('adaptive rate s3:slow/ledger-copy/entries/:'));
      expect(line, st.stdout).toBeDefined();
      expect(Number(/(\d+) cut\(s\)/.exec(line!)?.[1])).toBeGreaterThanOrEqual(1);
    } finally {
      await fleet.stop();
      await proxy.close();
      env.close();
    }
  }, 240_000);
});
