/**
 * S3's additional checksums carried by s3-sync, end to end: the real CLI (`convoy plan s3-sync`,
 * `convoy worker`, `convoy verify`) between two fauxqs 2.4.1 endpoints, the local implementation
 * that keeps checksums (test/helpers/fauxqs2.ts; neither fauxqs 1.9.2 nor radosgw 16 does).
 *  - a single-PUT copy carries the source's whole-object checksum (`x-amz-checksum-<alg>` from the
 *    GET, asked with checksum mode): the destination keeps the same algorithm and value
 * A multipart copy asks for the source's algorithm too, but is not tested here: convoy then stores
 * its sha256 with an in-place CopyObject (metadata REPLACE), on which fauxqs 2.4.1 drops the
 * checksum unless the request gives a value, where AWS keeps the source's algorithm (docs/compat.md).
 *  - verify finds the copy clean
 */
import {
  CreateBucketCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  type ChecksumAlgorithm,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, writeCliConfig } from '../helpers/cli.js';
import { startFauxqs2, type Fauxqs2 } from '../helpers/fauxqs2.js';
import { freshEnv, startTestStack, type TestEnv, type TestStack } from '../helpers/stack.js';
import { cliFleet } from './cli-run.js';

// a new object each time: the SDK marks the credentials object it is given (`$source`)
const creds = () => ({ accessKeyId: 'convoy-test', secretAccessKey: 'convoy-test-secret' });
let t: TestStack;
let src: Fauxqs2;
let dst: Fauxqs2;
let env: TestEnv;
const client = (url: string) =>
  new S3Client({ endpoint: url, region: 'us-east-1', forcePathStyle: true, credentials: creds() });

beforeAll(async () => {
  [t, src, dst] = await Promise.all([startTestStack(), startFauxqs2(), startFauxqs2()]);
  env = await freshEnv(t.stack);
}, 120_000);
afterAll(async () => {
  env?.close();
  await Promise.all([src?.close(), dst?.close(), t?.close()]);
});

describe('s3-sync with S3 additional checksums (fauxqs 2.4.1 endpoints)', () => {
  it('a copy keeps the source checksum (algorithm and value); verify is clean', async () => {
    const s3src = client(src.url);
    const s3dst = client(dst.url);
    await s3src.send(new CreateBucketCommand({ Bucket: 'ck-src' }));
    const small: Array<[string, ChecksumAlgorithm | undefined]> = [
      ['sha256.txt', 'SHA256'],
      ['crc32.txt', 'CRC32'],
      ['sha1.txt', 'SHA1'],
      // no algorithm asked: the SDK sends its default (CRC32), as an operator's uploads would have
      ['default.txt', undefined],
    ];
    for (const [key, algorithm] of small)
      await s3src.send(
        new PutObjectCommand({ Bucket: 'ck-src', Key: key, Body: `body of ${key}\n`, ChecksumAlgorithm: algorithm }),
      );
    const remote = (url: string) => ({ endpoint: url, forcePathStyle: true, ...creds() });
    const config = writeCliConfig(env, { ck1: remote(src.url), ck2: remote(dst.url) });
    const fleet = cliFleet(env, config);
    try {
      const s = await fleet.run('ck', ['--from', 'ck1:ck-src', '--to', 'ck2:ck-dst', '--create-buckets']);
      expect(s.counts.failed).toBe(0);
    } finally {
      await fleet.stop();
    }

    const head = (c: S3Client, Bucket: string, Key: string) =>
      c.send(new HeadObjectCommand({ Bucket, Key, ChecksumMode: 'ENABLED' }));
    for (const [key, algorithm] of small) {
      const [a, b] = await Promise.all([head(s3src, 'ck-src', key), head(s3dst, 'ck-dst', key)]);
      const fields = ['ChecksumSHA256', 'ChecksumCRC32', 'ChecksumSHA1'] as const;
      if (algorithm) expect(a[`Checksum${algorithm}` as (typeof fields)[number]], `${key} at the source`).toBeTruthy();
      expect(
        fields.map((f) => b[f]),
        `${key} at the destination`,
      ).toEqual(fields.map((f) => a[f]));
    }
    const verify = await runCli(['verify', '--run', 'ck'], { config });
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
  }, 240_000);
});
