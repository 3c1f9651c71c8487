/**
 * What s3-sync carries across besides bytes, end to end with the real CLI on radosgw (the
 * aws-local backend, `npm run test:compat`: fauxqs implements no tags, storage classes,
 * encryption or ACLs, so on the embedded backend this file is skipped; docs/compat.md):
 *  - a streamed copy (two identities): tags, storage class, SSE-KMS and a canned ACL on the single
 *    PUT and on the multipart upload; untagged objects cost no request more than with --tags none;
 *  - a server-side copy (one identity): --storage-class keep and tags copied; --tags none drops
 *    them; a later run skips objects whose bytes are the same even when their class or tags
 *    differ (as rclone and aws s3 sync do), and verify reports those differences.
 */
import {
  GetObjectAclCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_KMS_KEYS } from '../../infra/local/aws-local/radosgw.js';
import { makeS3Client } from '../../shared/s3-clients.js';
import { createBucket, objectBytes } from '../fixtures/s3-data.js';
import { docCommand } from '../docs/doc-commands.js';
import { runCli, writeCliConfig } from '../helpers/cli.js';
import { startS3Proxy } from '../helpers/s3-proxy.js';
import { freshEnv, startTestStack, testBackend, waitUntil, type TestEnv, type TestStack } from '../helpers/stack.js';
import { cliFleet, itemTotals, type CliFleet } from './cli-run.js';

const KMS_KEY = TEST_KMS_KEYS[0].id;
const MiB = 1024 * 1024;

let t: TestStack;
let env: TestEnv;
let config: string;
let fleet: CliFleet;
let minio: S3Client;
let local: S3Client;
let proxy: Awaited<ReturnType<typeof startS3Proxy>>;
/** requests the workers sent to the source through the proxy, by kind */
const seen = { tagging: 0, other: 0 };

async function put(s3: S3Client, bucket: string, key: string, body: Buffer, extra: Record<string, unknown> = {}) {
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ...extra }));
}

async function tagsOf(s3: S3Client, bucket: string, key: string) {
  const out = await s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: key }));
  return Object.fromEntries((out.TagSet ?? []).map((x) => [x.Key, x.Value]));
}

async function bytesOf(s3: S3Client, bucket: string, key: string): Promise<Buffer> {
  const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await out.Body!.transformToByteArray());
}

describe.runIf(testBackend() === 'aws-local')('s3-sync object properties on radosgw', () => {
  beforeAll(async () => {
    t = await startTestStack({ extraS3: ['minio'] });
    minio = makeS3Client({ ...t.stack.remotes.minio!, name: 'minio' });
    local = makeS3Client({ ...t.stack.remotes.local!, name: 'local' });
    // the source seen through a proxy that counts the workers' requests (GetObjectTagging apart)
    proxy = await startS3Proxy(t.stack.remotes.minio!.endpoint!, {
      before: (req) => {
        if (/[?&]tagging(=|&|$)/.test(req.url ?? '')) seen.tagging++;
        else seen.other++;
      },
    });
    env = await freshEnv(t.stack);
    const { name: _n, ...minioRemote } = t.stack.remotes.minio! as { name?: string; endpoint?: string };
    const { name: _l, ...localRemote } = t.stack.remotes.local! as { name?: string };
    // the docs' remote names: minio (one identity) and aws (another)
    config = writeCliConfig(env, { counted: { ...minioRemote, endpoint: proxy.url }, aws: localRemote });
    fleet = cliFleet(env, config);
  });
  afterAll(async () => {
    await fleet?.stop();
    minio?.destroy();
    local?.destroy();
    env?.close();
    await proxy?.close();
    await t?.close();
  });

  it('streamed copy: tags, storage class, SSE-KMS and ACL on single PUTs and multipart uploads', async () => {
    await createBucket(minio, 'props-src');
    const small = objectBytes('tagged.txt', 3000);
    const big = objectBytes('big.bin', 6 * MiB + 123);
    await put(minio, 'props-src', 'tagged.txt', small, {
      Tagging: 'team=lake&k%202=v%2F2',
      StorageClass: 'STANDARD_IA',
    });
    await put(minio, 'props-src', 'big.bin', big, { Tagging: 'tier=cold' });
    await put(minio, 'props-src', 'plain.txt', objectBytes('plain.txt', 500));
    const before = { ...seen };
    const s = await fleet.run('props-stream', [
      '--from',
      'counted:props-src',
      '--to',
      'local:props-dst',
      '--create-buckets',
      '--storage-class',
      'GLACIER_IR',
      '--sse',
      'aws:kms',
      '--sse-kms-key-id',
      KMS_KEY,
      '--acl',
      'public-read',
      '--multipart-threshold',
      '5MiB',
      '--part-size',
      '5MiB',
    ]);
    expect(s.counts.failed).toBe(0);
    const totals = await itemTotals(env, 'props-stream');
    // copied at the first attempt: no retry (radosgw cannot copy an SSE-KMS object onto itself to
    // store convoy-sha256; the multipart copy keeps convoy-source-etag instead)
    expect(totals.objects, JSON.stringify({ totals, status: s })).toBe(3);
    expect(s.counters.retries).toBe(0);
    // one GetObjectTagging per tagged object, none for the untagged one
    expect(seen.tagging - before.tagging).toBe(2);

    expect(await tagsOf(local, 'props-dst', 'tagged.txt')).toEqual({ team: 'lake', 'k 2': 'v/2' });
    expect(await tagsOf(local, 'props-dst', 'big.bin')).toEqual({ tier: 'cold' });
    expect(await tagsOf(local, 'props-dst', 'plain.txt')).toEqual({});
    for (const key of ['tagged.txt', 'big.bin', 'plain.txt']) {
      const head = await local.send(new HeadObjectCommand({ Bucket: 'props-dst', Key: key }));
      expect(head.StorageClass, key).toBe('GLACIER_IR');
      expect(head.ServerSideEncryption, key).toBe('aws:kms');
      expect(head.SSEKMSKeyId, key).toBe(KMS_KEY);
      const acl = await local.send(new GetObjectAclCommand({ Bucket: 'props-dst', Key: key }));
      expect(
        acl.Grants?.some((g) => g.Grantee?.URI?.endsWith('/AllUsers') && g.Permission === 'READ'),
        key,
      ).toBe(true);
    }
    expect((await bytesOf(local, 'props-dst', 'tagged.txt')).equals(small)).toBe(true);
    expect((await bytesOf(local, 'props-dst', 'big.bin')).equals(big)).toBe(true);

    // the status shows what the run carries
    const status = await runCli(['status', '--run', 'props-stream'], { config });
    expect(status.stdout).toContain(
      `options: tags copy, storage-class GLACIER_IR, sse aws:kms (${KMS_KEY}), acl public-read`,
    );
    const verify = await runCli(['verify', '--run', 'props-stream'], { config });
    expect(verify.stdout, verify.stderr).toContain('CLEAN');
  });

  it("docs/s3-properties.md's cross-account archive, as written", async () => {
    await createBucket(minio, 'rideshare-gold');
    await put(minio, 'rideshare-gold', 'trips/part-0.parquet', objectBytes('p0', 4000), { Tagging: 'layer=gold' });
    await createBucket(local, 'rideshare-123456789012-gold');
    const plan = docCommand(
      'docs/s3-properties.md',
      'convoy plan s3-sync --from minio:rideshare-{} --to aws:rideshare-123456789012-{} --buckets gold --storage-class GLACIER_IR --sse aws:kms --sse-kms-key-id alias/rideshare-archive --acl bucket-owner-full-control --run archive-1',
    );
    const r = await runCli(plan.split(' ').slice(1), { config });
    expect(r.code, r.stderr).toBe(0);
    const status = docCommand('docs/s3-properties.md', 'convoy status --run archive-1');
    await waitUntil(async () => (await runCli(status.split(' ').slice(1), { config })).stdout.includes('state=done'), {
      timeoutMs: 90_000,
      intervalMs: 500,
      what: 'archive-1 done',
    });
    const out = await runCli(status.split(' ').slice(1), { config });
    expect(out.stdout).toContain(
      'options: tags copy, storage-class GLACIER_IR, sse aws:kms (alias/rideshare-archive), acl bucket-owner-full-control, rate-control adaptive',
    );
    const head = await local.send(
      new HeadObjectCommand({ Bucket: 'rideshare-123456789012-gold', Key: 'trips/part-0.parquet' }),
    );
    expect(head.StorageClass).toBe('GLACIER_IR');
    expect(head.ServerSideEncryption).toBe('aws:kms');
    expect(head.SSEKMSKeyId).toBe('alias/rideshare-archive');
    expect(await tagsOf(local, 'rideshare-123456789012-gold', 'trips/part-0.parquet')).toEqual({ layer: 'gold' });
  });

  it('untagged objects cost no extra request: --tags copy sends what --tags none sends', async () => {
    await createBucket(minio, 'props-plain');
    for (let i = 0; i < 20; i++) await put(minio, 'props-plain', `k${i}`, objectBytes(`k${i}`, 200));
    const requests: Record<string, { tagging: number; other: number }> = {};
    for (const tags of ['copy', 'none']) {
      const before = { ...seen };
      const s = await fleet.run(`props-plain-${tags}`, [
        '--from',
        'counted:props-plain',
        '--to',
        `local:props-plain-${tags}`,
        '--create-buckets',
        '--tags',
        tags,
      ]);
      expect(s.counts.failed).toBe(0);
      requests[tags] = { tagging: seen.tagging - before.tagging, other: seen.other - before.other };
    }
    process.stdout.write(`source requests for 20 untagged objects: ${JSON.stringify(requests)}\n`);
    expect(requests.copy).toEqual(requests.none);
    expect(requests.copy!.tagging).toBe(0);
  });

  it('server-side copy: --storage-class keep and tags copied, --tags none drops them; later runs skip same bytes; verify reports property differences', async () => {
    await createBucket(local, 'ss-src');
    await put(local, 'ss-src', 'ia.txt', objectBytes('ia.txt', 700), {
      Tagging: 'owner=data',
      StorageClass: 'STANDARD_IA',
    });
    await put(local, 'ss-src', 'gir.txt', objectBytes('gir.txt', 900), { StorageClass: 'GLACIER_IR' });
    await put(local, 'ss-src', 'std.txt', objectBytes('std.txt', 100), { Tagging: 'a=1' });
    const keep = ['--from', 'local:ss-src', '--to', 'local:ss-keep', '--create-buckets', '--storage-class', 'keep'];
    expect((await fleet.run('props-keep', keep)).counts.failed).toBe(0);
    const classOf = async (key: string) =>
      (await local.send(new HeadObjectCommand({ Bucket: 'ss-keep', Key: key }))).StorageClass ?? 'STANDARD';
    expect(await classOf('ia.txt')).toBe('STANDARD_IA');
    expect(await classOf('gir.txt')).toBe('GLACIER_IR');
    expect(await classOf('std.txt')).toBe('STANDARD');
    expect(await tagsOf(local, 'ss-keep', 'ia.txt')).toEqual({ owner: 'data' });
    expect(await tagsOf(local, 'ss-keep', 'std.txt')).toEqual({ a: '1' });

    const none = ['--from', 'local:ss-src', '--to', 'local:ss-none', '--create-buckets', '--tags', 'none'];
    expect((await fleet.run('props-none', none)).counts.failed).toBe(0);
    expect(await tagsOf(local, 'ss-none', 'ia.txt')).toEqual({});
    expect(await tagsOf(local, 'ss-none', 'std.txt')).toEqual({});

    // the destination's tags and class changed after the copy: same bytes, so a new run skips them
    await local.send(
      new PutObjectTaggingCommand({
        Bucket: 'ss-keep',
        Key: 'ia.txt',
        Tagging: { TagSet: [{ Key: 'x', Value: 'y' }] },
      }),
    );
    await local.send(
      new PutObjectCommand({
        Bucket: 'ss-keep',
        Key: 'std.txt',
        Body: objectBytes('std.txt', 100),
        Tagging: 'a=1',
        StorageClass: 'STANDARD_IA',
      }),
    );
    const again = await fleet.run('props-keep-2', keep);
    expect(again.counts.failed).toBe(0);
    const totals = await itemTotals(env, 'props-keep-2');
    expect(totals.objects ?? 0).toBe(0);
    expect(totals.skipped).toBe(3);

    // verify reads no body: the classes from the listings, the tags by GetObjectTagging
    const report = path.join(mkdtempSync(path.join(tmpdir(), 'convoy-props-')), 'verify.jsonl');
    const v = await runCli(['verify', '--run', 'props-keep', '--report', report], { config });
    expect(v.code, v.stderr).not.toBe(0);
    expect(v.stdout).toContain('DIFFERENCES FOUND');
    const lines = readFileSync(report, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const diffs = lines.filter((l) => !l.summary).map((l) => [l.srcKey, l.verdict]);
    expect(diffs.sort()).toEqual([
      ['ia.txt', 'tags_differ'],
      ['std.txt', 'storage_class_differs'],
    ]);
    // --tags none: the destination has no tags on purpose, so tags are not compared
    const vn = await runCli(['verify', '--run', 'props-none'], { config });
    expect(vn.stdout, vn.stderr).toContain('CLEAN');
  });
});
