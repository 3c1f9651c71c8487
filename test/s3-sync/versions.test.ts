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
  HeadBucketCommand,
  HeadObjectCommand,
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
import { startS3Proxy } from '../helpers/s3-proxy.js';
import { runCli, writeCliConfig } from '../helpers/cli.js';
import { useTwoEndpointStack } from '../helpers/s3.js';
import { freshEnv, testBackend, type TestStack } from '../helpers/stack.js';
import { itemsOfRun } from '../../state/item-bulk.js';
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

/**
 * A key's entries newest first as S3 lists them, without relying on LastModified: each object
 * version's body (Versions keep the listing's newest-first order), and DELETE when the newest entry
 * is a delete marker (IsLatest) or MARKERS:n for the number of delete markers the key has.
 */
async function entries(
  s3: S3Client,
  bucket: string,
  key: string,
): Promise<{ bodies: string[]; markers: number; deleted: boolean }> {
  const out = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: key }));
  const bodies: string[] = [];
  for (const v of (out.Versions ?? []).filter((v) => v.Key === key)) {
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, VersionId: v.VersionId }));
    bodies.push(await got.Body!.transformToString());
  }
  const markers = (out.DeleteMarkers ?? []).filter((m) => m.Key === key);
  return { bodies, markers: markers.length, deleted: markers.some((m) => m.IsLatest) };
}

/** Every version id and delete marker id of a bucket: what "nothing written" is checked against. */
async function allEntries(s3: S3Client, bucket: string): Promise<string[]> {
  const out = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket }));
  return [...(out.Versions ?? []), ...(out.DeleteMarkers ?? [])].map((v) => `${v.Key}?${v.VersionId}`).sort();
}

async function versioned(s3: S3Client, bucket: string, status: 'Enabled' | 'Suspended' = 'Enabled') {
  await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: status } }));
}

async function put(s3: S3Client, bucket: string, key: string, body: string): Promise<string> {
  return (await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }))).VersionId ?? 'null';
}

describe('s3-sync --all-versions: bad input', () => {
  it.each([
    [['--latest-prefix', 'snapshots'], '--latest-prefix'],
    [['--size-only'], '--size-only'],
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
    // its dry run first (docs/compat.md): every version and delete marker listed, nothing created
    const preview = docCommand(
      'docs/compat.md',
      'convoy plan s3-sync --from minio:contracts --to local:contracts-copy --all-versions --delete --create-buckets --dry-run',
    );
    const dry = await runCli(preview.split(' ').slice(1), { config });
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout.split('\n').filter((l) => l.startsWith('copy: '))).toHaveLength(9);
    expect(dry.stdout).toContain('total to copy: 7 versions');
    expect(dry.stdout).toContain('delete markers to mirror: 2');
    await expect(local.send(new HeadBucketCommand({ Bucket: 'contracts-copy' }))).rejects.toThrow();
    expect(await listRuns(env.ctx.meta)).toEqual([]);
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

  it('--delete puts a delete marker on destination-only keys (after the last key, under a destination-only prefix); --dry-run lists it all first and writes nothing', async () => {
    await minio.send(new CreateBucketCommand({ Bucket: 'mirror-src' }));
    await versioned(minio, 'mirror-src');
    const a = [await put(minio, 'mirror-src', 'a.txt', 'a-1'), await put(minio, 'mirror-src', 'a.txt', 'a-2')];
    const x = await put(minio, 'mirror-src', 'logs/x.txt', 'x-1');
    const xMarker = (await minio.send(new DeleteObjectCommand({ Bucket: 'mirror-src', Key: 'logs/x.txt' }))).VersionId!;
    await local.send(new CreateBucketCommand({ Bucket: 'mirror-dst' }));
    await versioned(local, 'mirror-dst');
    // destination-only keys: after the source's last top-level key, under a prefix the source lacks,
    // after the source's last key of a prefix, and one whose newest entry is a delete marker already
    await put(local, 'mirror-dst', 'z-old.txt', 'old-1');
    await put(local, 'mirror-dst', 'gone/w.txt', 'w-1');
    await put(local, 'mirror-dst', 'gone/y.txt', 'y-1');
    await put(local, 'mirror-dst', 'logs/zz.txt', 'zz-1');
    await put(local, 'mirror-dst', 'b-deleted.txt', 'b-1');
    await local.send(new DeleteObjectCommand({ Bucket: 'mirror-dst', Key: 'b-deleted.txt' }));
    const before = await allEntries(local, 'mirror-dst');

    const env = await freshEnv(t.stack);
    const config = writeCliConfig(env);
    const sync = ['--from', 'minio:mirror-src', '--to', 'local:mirror-dst', '--all-versions', '--delete'];
    const dry = await runCli(['plan', 's3-sync', ...sync, '--dry-run'], { config });
    expect(dry.stderr).toBe('');
    expect(dry.code).toBe(0);
    // per key in key order, each key's versions oldest first, delete markers in their place
    expect(dry.stdout.split('\n').filter((l) => /^(copy|delete): /.test(l))).toEqual([
      `copy: minio:mirror-src/a.txt versionId=${a[0]} (3 bytes)`,
      `copy: minio:mirror-src/a.txt versionId=${a[1]} (3 bytes)`,
      'delete: local:mirror-dst/gone/w.txt',
      'delete: local:mirror-dst/gone/y.txt',
      `copy: minio:mirror-src/logs/x.txt versionId=${x} (3 bytes)`,
      `copy: minio:mirror-src/logs/x.txt versionId=${xMarker} (delete marker)`,
      'delete: local:mirror-dst/logs/zz.txt',
      'delete: local:mirror-dst/z-old.txt',
    ]);
    expect(dry.stdout).toContain('DRY RUN: nothing was written (--all-versions: counts are versions)');
    expect(dry.stdout).toContain('total to copy: 3 versions, 0.0 MiB');
    expect(dry.stdout).toContain('delete markers to mirror: 1');
    expect(dry.stdout).toContain('total to delete: 4 keys');
    const json = await runCli(['plan', 's3-sync', ...sync, '--dry-run', '--json'], { config });
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual([
      {
        pair: 'minio:mirror-src->local:mirror-dst',
        prefixes: [''],
        copy: { objects: 3, bytes: 9 },
        skip: { objects: 0, bytes: 0 },
        extra: 4,
        delete: { objects: 4, bytes: 15 },
        deleteMarkers: 1,
        copyVersions: [
          { key: 'a.txt', versionId: a[0], deleteMarker: false, size: 3 },
          { key: 'a.txt', versionId: a[1], deleteMarker: false, size: 3 },
          { key: 'logs/x.txt', versionId: x, deleteMarker: false, size: 3 },
          { key: 'logs/x.txt', versionId: xMarker, deleteMarker: true, size: 0 },
        ],
        deleteKeys: [
          'local:mirror-dst/gone/w.txt',
          'local:mirror-dst/gone/y.txt',
          'local:mirror-dst/logs/zz.txt',
          'local:mirror-dst/z-old.txt',
        ],
      },
    ]);
    // a destination --create-buckets would create: listed as all to copy, and still not created
    const fresh = await runCli(
      [
        'plan',
        's3-sync',
        '--from',
        'minio:mirror-src',
        '--to',
        'local:mirror-new',
        '--all-versions',
        '--create-buckets',
        '--dry-run',
      ],
      { config },
    );
    expect(fresh.code).toBe(0);
    expect(fresh.stdout).toContain('total to copy: 3 versions');
    await expect(local.send(new HeadBucketCommand({ Bucket: 'mirror-new' }))).rejects.toThrow();
    expect(await allEntries(local, 'mirror-dst')).toEqual(before);
    expect(await listRuns(env.ctx.meta)).toEqual([]);

    const fleet = cliFleet(env, config);
    try {
      // one-key ranges: the one of the destination-only prefix gone/ has two keys to mark, more
      // than a range holds (--range-keys), so its markers come from a second listing of the range
      const first = await fleet.run('m1', [...sync, '--range-keys', '1']);
      expect(first.counts.failed).toBe(0);
      const t1 = await itemTotals(env, 'm1');
      expect(t1.objects).toBe(3);
      expect(t1.deleteMarkers).toBe(1);
      expect(t1.deleted).toBe(4);
      expect(await entries(local, 'mirror-dst', 'a.txt')).toEqual({
        bodies: ['a-2', 'a-1'],
        markers: 0,
        deleted: false,
      });
      expect(await entries(local, 'mirror-dst', 'logs/x.txt')).toEqual({ bodies: ['x-1'], markers: 1, deleted: true });
      // marked deleted, their versions kept
      for (const [key, body] of [
        ['z-old.txt', 'old-1'],
        ['gone/w.txt', 'w-1'],
        ['gone/y.txt', 'y-1'],
        ['logs/zz.txt', 'zz-1'],
      ])
        expect(await entries(local, 'mirror-dst', key!), key).toEqual({ bodies: [body], markers: 1, deleted: true });
      expect(await entries(local, 'mirror-dst', 'b-deleted.txt')).toEqual({
        bodies: ['b-1'],
        markers: 1,
        deleted: true,
      });
      const clean = await runCli(['verify', '--run', 'm1'], { config });
      expect(clean.stdout).toContain('keys: ok 7  missing 0  versions_differ 0  extra 0');
      expect(clean.code).toBe(0);

      // a re-run (and its dry run) finds nothing to do: no second delete marker anywhere
      const again = await runCli(['plan', 's3-sync', ...sync, '--dry-run'], { config });
      expect(again.stdout.split('\n').filter((l) => /^(copy|delete): /.test(l))).toEqual([]);
      const settled = await allEntries(local, 'mirror-dst');
      await fleet.run('m2', [...sync, '--range-keys', '1']);
      const t2 = await itemTotals(env, 'm2');
      expect([t2.objects ?? 0, t2.deleteMarkers ?? 0, t2.deleted ?? 0]).toEqual([0, 0, 0]);
      expect(await allEntries(local, 'mirror-dst')).toEqual(settled);

      // a destination-only key given a current version again is extra
      await put(local, 'mirror-dst', 'z-old.txt', 'old-2');
      const extra = await runCli(['verify', '--run', 'm1'], { config });
      expect(extra.stdout).toContain('keys: ok 6  missing 0  versions_differ 0  extra 1');
      expect(extra.code).toBe(1);
    } finally {
      await fleet.stop();
      env.close();
    }
  }, 180_000);

  it('unversioned and suspended sources: "null" versions copied, re-runs copy nothing, a null version replaced in place arrives as a new version, one replaced mid-copy is retried', async () => {
    await minio.send(new CreateBucketCommand({ Bucket: 'nv-src' })); // versioning never enabled
    await put(minio, 'nv-src', 'n.txt', 'n-1');
    await minio.send(new CreateBucketCommand({ Bucket: 'su-src' }));
    await versioned(minio, 'su-src');
    await put(minio, 'su-src', 's.txt', 's-1');
    await put(minio, 'su-src', 's.txt', 's-2');
    await versioned(minio, 'su-src', 'Suspended');
    expect(await put(minio, 'su-src', 's.txt', 's-3')).toBe('null');
    await put(minio, 'su-src', 'u.txt', 'u-1');
    const env = await freshEnv(t.stack);
    // the same radosgw tenant behind a proxy, as one remote for both sides (server-side copies)
    let replaced = 0;
    const proxy = await startS3Proxy(t.stack.remotes.minio!.endpoint!, {
      async before(req) {
        const from = String(req.headers['x-amz-copy-source'] ?? '');
        if (req.method !== 'PUT' || !from.includes('u.txt') || replaced++) return;
        // the null version is replaced between the listing and its CopyObject
        await put(minio, 'su-src', 'u.txt', 'u-2 replaced');
      },
    });
    const config = writeCliConfig(env, { via: { ...t.stack.remotes.minio!, endpoint: proxy.url } });
    const fleet = cliFleet(env, config);
    const sync = ['--from', 'minio:{}', '--to', 'local:{}-copy', '--buckets', 'nv-src', 'su-src', '--all-versions'];
    try {
      await fleet.run('n1', [...sync, '--create-buckets']);
      expect((await itemTotals(env, 'n1')).objects).toBe(5);
      expect((await entries(local, 'nv-src-copy', 'n.txt')).bodies).toEqual(['n-1']);
      expect((await entries(local, 'su-src-copy', 's.txt')).bodies).toEqual(['s-3', 's-2', 's-1']);
      expect((await entries(local, 'su-src-copy', 'u.txt')).bodies).toEqual(['u-1']);
      await fleet.run('n2', sync);
      const t2 = await itemTotals(env, 'n2');
      expect([t2.objects ?? 0, t2.skipped]).toEqual([0, 5]);
      const clean = await runCli(['verify', '--run', 'n2'], { config });
      expect(clean.code, clean.stdout).toBe(0);

      // replaced in place (same id "null", new content): copied again, as the newest version
      await put(minio, 'nv-src', 'n.txt', 'n-2');
      await put(minio, 'su-src', 's.txt', 's-4');
      await fleet.run('n3', sync);
      expect((await itemTotals(env, 'n3')).objects).toBe(2);
      expect((await entries(local, 'nv-src-copy', 'n.txt')).bodies).toEqual(['n-2', 'n-1']);
      expect((await entries(local, 'su-src-copy', 's.txt')).bodies).toEqual(['s-4', 's-3', 's-2', 's-1']);
      await fleet.run('n4', sync);
      expect((await itemTotals(env, 'n4')).objects ?? 0).toBe(0);
      // the destination keeps the replaced content the source no longer has (docs/compat.md)
      const report = path.join(mkdtempSync(path.join(tmpdir(), 'convoy-versions-')), 'n4.jsonl');
      const differ = await runCli(['verify', '--run', 'n4', '--report', report], { config });
      expect(differ.code).toBe(1);
      expect(differ.stdout).toContain('keys: ok 1  missing 0  versions_differ 2  extra 0');
      const lines = readFileSync(report, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(lines.find((l) => l.srcKey === 'n.txt')).toMatchObject({
        srcVersions: 1,
        dstVersions: 2,
        firstDifference: 0,
      });
      expect(lines.find((l) => l.srcKey === 's.txt')).toMatchObject({
        srcVersions: 3,
        dstVersions: 4,
        firstDifference: 2,
      });

      // replaced between listing and copy: CopySourceIfMatch fails (SOURCE_CHANGED), the retry copies the new content
      await fleet.run('n5', [
        '--from',
        'via:su-src',
        '--to',
        'via:su-src-direct',
        '--all-versions',
        '--create-buckets',
      ]);
      expect(replaced).toBeGreaterThan(0);
      expect((await entries(minio, 'su-src-direct', 'u.txt')).bodies).toEqual(['u-2 replaced']);
      const head = await minio.send(new HeadObjectCommand({ Bucket: 'su-src-direct', Key: 'u.txt' }));
      expect(head.Metadata?.['convoy-source-etag']).toBe(head.ETag!.replace(/"/g, ''));
      const classes: string[] = [];
      for await (const page of itemsOfRun(env.ctx.items, 'n5'))
        for (const i of page) for (const h of i.history ?? []) if (h.errorClass) classes.push(h.errorClass);
      expect(classes).toContain('SOURCE_CHANGED');
      expect((await entries(minio, 'su-src-direct', 's.txt')).bodies).toEqual(['s-4', 's-2', 's-1']);
    } finally {
      await fleet.stop();
      await proxy.close();
      env.close();
    }
  }, 180_000);
});
