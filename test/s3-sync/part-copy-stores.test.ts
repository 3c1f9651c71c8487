/**
 * The spread copy by parts (part-copy-items.ts) on stores that implement UploadPartCopy
 * themselves, not the emulating proxy of part-copy-items.test.ts: fauxqs 2.4.1 on the embedded
 * backend (test/helpers/fauxqs2.ts), radosgw on aws-local (`npm run test:compat`). The real CLI
 * (`convoy plan s3-sync`, one `convoy worker`, `convoy verify`) with small limits on the command
 * line: a 24 MiB object over an 8 MiB copy limit in 5 MiB parts is 5 parts, part 1 copied by the
 * range item and parts 2-3, 4-5 by two child items. A proxy in front of the store only counts
 * (test/helpers/part-copy-proxy.ts, native): no byte of the object through the worker, each part
 * copied once, one completion, and verify finds the copy clean. A 10 MiB object beside it (2
 * parts) is copied by parts by its range item alone (part-copy.ts), on the same stores.
 */
import { HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeS3Client } from '../../shared/s3-clients.js';
import { itemsOfRun } from '../../state/item-bulk.js';
import { META_SOURCE_ETAG } from '../../worker/jobs/s3-sync/decide.js';
import { putObjects } from '../fixtures/s3-data.js';
import { runCli, writeCliConfig } from '../helpers/cli.js';
import { startFauxqs2, type Fauxqs2 } from '../helpers/fauxqs2.js';
import { startPartCopyProxy } from '../helpers/part-copy-proxy.js';
import { getBytes } from '../helpers/s3.js';
import { freshEnv, startTestStack, testBackend, type TestEnv, type TestStack } from '../helpers/stack.js';
import { cliFleet, itemTotals } from './cli-run.js';

const MiB = 1024 * 1024;
const SIZE = 24 * MiB;
const KEY = 'exports/big.bin';
/** 2 parts, no more than --parts-per-item: copied by parts by its range item alone (part-copy.ts) */
const MID = 'exports/mid.bin';
const BUCKET = 'parts-src';
const onRadosgw = testBackend() === 'aws-local';

let t: TestStack;
let fauxqs2: Fauxqs2 | undefined;
let env: TestEnv;
let s3: S3Client;
/** the store's remote as the CLI config names it (endpoint, path style, credentials) */
let remote: Record<string, unknown>;

beforeAll(async () => {
  if (onRadosgw) {
    // a radosgw tenant of the shared server
    t = await startTestStack({ extraS3: ['minio'] });
    const { name: _n, ...r } = t.stack.remotes.minio! as { name?: string };
    remote = r;
    s3 = makeS3Client({ ...t.stack.remotes.minio!, name: 'minio' });
  } else {
    [t, fauxqs2] = await Promise.all([startTestStack(), startFauxqs2()]);
    remote = { endpoint: fauxqs2.url, forcePathStyle: true, accessKeyId: 'convoy-test', secretAccessKey: 'x' };
    s3 = new S3Client({
      endpoint: fauxqs2.url,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'convoy-test', secretAccessKey: 'x' },
    });
  }
  env = await freshEnv(t.stack);
}, 120_000);
afterAll(async () => {
  env?.close();
  s3?.destroy();
  await Promise.all([fauxqs2?.close(), t?.close()]);
});

describe(`copy by parts spread over child items, on ${onRadosgw ? 'radosgw' : 'fauxqs 2.4.1'}'s own UploadPartCopy`, () => {
  it('copies each part once, server-side, completes once; verify is clean', async () => {
    await putObjects(s3, BUCKET, [
      { key: KEY, size: SIZE, contentType: 'application/octet-stream' },
      { key: MID, size: 10 * MiB, contentType: 'application/octet-stream' },
    ]);
    const copied: string[] = [];
    const { proxy, seen } = await startPartCopyProxy(String(remote.endpoint), s3, {
      sourceBucket: BUCKET,
      native: true,
      onPartCopy: (r) => void copied.push(`${r.key}#${r.partNumber}`),
    });
    const config = writeCliConfig(env, { store: { ...remote, endpoint: proxy.url } });
    const fleet = cliFleet(env, config);
    try {
      const s = await fleet.run('pc', [
        '--from',
        `store:${BUCKET}`,
        '--to',
        `store:${BUCKET}-dst`,
        '--create-buckets',
        '--part-size',
        '5MiB',
        '--copy-max-size',
        '8MiB',
        '--parts-per-item',
        '2',
      ]);
      expect(s.counts.failed).toBe(0);
      expect(copied.sort()).toEqual([1, 2, 3, 4, 5].map((n) => `${KEY}#${n}`).concat([`${MID}#1`, `${MID}#2`]));
      expect(seen.completes).toBe(2); // one per object
      expect(seen.sourceGets).toBe(0);
      expect((await itemTotals(env, 'pc')).objects).toBe(2);
      // each item done at its first attempt (radosgw's empty CompleteMultipartUpload ETag once
      // failed the completer's check: a retry, a second completion)
      const attempts: Record<string, number> = {};
      for await (const page of itemsOfRun(env.ctx.items, 'pc')) for (const i of page) attempts[i.itemId] = i.attempts;
      expect(
        Object.keys(attempts)
          .filter((id) => id.startsWith('parts:'))
          .sort(),
      ).toEqual([`parts:0:${KEY}#2-3`, `parts:0:${KEY}#4-5`]);
      expect(
        Object.values(attempts).every((n) => n === 1),
        JSON.stringify(attempts),
      ).toBe(true);

      for (const [key, parts] of [
        [KEY, 5],
        [MID, 2],
      ] as const) {
        const [src, dst] = await Promise.all([getBytes(s3, BUCKET, key), getBytes(s3, `${BUCKET}-dst`, key)]);
        expect(dst.equals(src), key).toBe(true);
        const [sh, dh] = await Promise.all([
          s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key })),
          s3.send(new HeadObjectCommand({ Bucket: `${BUCKET}-dst`, Key: key })),
        ]);
        expect(dh.ETag).toMatch(new RegExp(`-${parts}"$`));
        expect(dh.Metadata?.[META_SOURCE_ETAG]).toBe(sh.ETag!.replace(/"/g, ''));
      }

      const verify = await runCli(['verify', '--run', 'pc'], { config });
      expect(verify.code, verify.stdout + verify.stderr).toBe(0);
      expect(verify.stdout).toContain('CLEAN');
    } finally {
      await fleet.stop();
      await proxy.close();
    }
  }, 120_000);
});
