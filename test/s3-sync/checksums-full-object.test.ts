/**
 * What the local stores answer for a multipart upload asked for a full-object checksum
 * (`x-amz-checksum-type: FULL_OBJECT`, CRC32), the one kind of value by which s3-sync's skip and
 * verify can decide between objects cut in different parts (decideByChecksums in decide.ts,
 * checksums.ts). AWS keeps it: the HEAD says FULL_OBJECT and the CRC32 of the whole body, which a
 * single PUT of the same bytes also has, so the two are "the same" without reading a body.
 *  - fauxqs 2.4.1 (embedded backend; test/helpers/fauxqs2.ts) ignores the type: it keeps a
 *    COMPOSITE value (`<crc of the parts' crcs>-<parts>`), which cannot be compared with another
 *    cut, so convoy's decision falls back to its metadata
 *  - radosgw 16.2 (aws-local, `npm run test:compat`) keeps no checksum at all
 * So no local backend drives the checksum skip end to end (docs/compat.md). The day a store
 * answers FULL_OBJECT this test fails and says so: then test the skip and verify with it.
 */
import { crc32 } from 'node:zlib';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decideByChecksums } from '../../worker/jobs/s3-sync/decide.js';
import { objectBytes } from '../fixtures/s3-data.js';
import { startFauxqs2, type Fauxqs2 } from '../helpers/fauxqs2.js';
import { startTestStack, testBackend, type TestStack } from '../helpers/stack.js';

const MiB = 1024 * 1024;
const onRadosgw = testBackend() === 'aws-local';
const BUCKET = 'full-object';

let t: TestStack | undefined;
let fauxqs2: Fauxqs2 | undefined;
let s3: S3Client;

beforeAll(async () => {
  let endpoint: string;
  let credentials = { accessKeyId: 'convoy-test', secretAccessKey: 'x' };
  if (onRadosgw) {
    t = await startTestStack({ extraS3: ['minio'] });
    const r = t.stack.remotes.minio! as { endpoint: string; accessKeyId: string; secretAccessKey: string };
    endpoint = r.endpoint;
    credentials = { accessKeyId: r.accessKeyId, secretAccessKey: r.secretAccessKey };
  } else {
    fauxqs2 = await startFauxqs2();
    endpoint = fauxqs2.url;
  }
  // the SDK's default checksum behaviour, as an operator's own uploads would have
  s3 = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials });
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
}, 120_000);
afterAll(async () => {
  s3?.destroy();
  await Promise.all([fauxqs2?.close(), t?.close()]);
});

const b64 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b.toString('base64');
};
const head = (Key: string) => s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key, ChecksumMode: 'ENABLED' }));

describe(`a full-object CRC32 asked of a multipart upload, on ${onRadosgw ? 'radosgw 16' : 'fauxqs 2.4.1'}`, () => {
  it('is not kept as FULL_OBJECT, so checksums give convoy no verdict between two cuts', async () => {
    const body = objectBytes('full.bin', 6 * MiB);
    const whole = b64(crc32(body));
    const parts = [body.subarray(0, 5 * MiB), body.subarray(5 * MiB)];
    const { UploadId } = await s3.send(
      new CreateMultipartUploadCommand({
        Bucket: BUCKET,
        Key: 'multipart.bin',
        ChecksumAlgorithm: 'CRC32',
        ChecksumType: 'FULL_OBJECT',
      }),
    );
    const uploaded = [];
    for (const [i, part] of parts.entries()) {
      const out = await s3.send(
        new UploadPartCommand({
          Bucket: BUCKET,
          Key: 'multipart.bin',
          UploadId,
          PartNumber: i + 1,
          Body: part,
          ChecksumAlgorithm: 'CRC32',
        }),
      );
      uploaded.push({ PartNumber: i + 1, ETag: out.ETag, ChecksumCRC32: out.ChecksumCRC32 });
    }
    await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: BUCKET,
        Key: 'multipart.bin',
        UploadId,
        MultipartUpload: { Parts: uploaded },
        ChecksumType: 'FULL_OBJECT',
        ChecksumCRC32: whole,
        MpuObjectSize: body.length,
      }),
    );
    // the same bytes in one PUT (another cut): a full-object CRC32 where the store keeps checksums
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'single.bin', Body: body, ChecksumAlgorithm: 'CRC32' }));
    const [multi, single] = await Promise.all([head('multipart.bin'), head('single.bin')]);
    const seen = (h: typeof multi) => ({ type: h.ChecksumType, crc32: h.ChecksumCRC32 });

    if (onRadosgw) {
      expect(seen(multi)).toEqual({ type: undefined, crc32: undefined });
      expect(seen(single)).toEqual({ type: undefined, crc32: undefined });
    } else {
      // AWS: { type: 'FULL_OBJECT', crc32: whole }
      expect(seen(multi)).toEqual({ type: 'COMPOSITE', crc32: expect.stringMatching(/-2$/) });
      expect(multi.ChecksumCRC32).not.toBe(whole);
      expect(seen(single)).toEqual({ type: 'FULL_OBJECT', crc32: whole });
    }
    // what convoy's skip and verify make of it: no verdict (convoy-source-etag / convoy-sha256
    // decide), where AWS's two FULL_OBJECT values would skip it as the same object
    const listed = { key: 'single.bin', size: body.length, etag: String(single.ETag), lastModifiedMs: 0 };
    expect(decideByChecksums(listed, single, multi)).toBeUndefined();
  }, 60_000);
});
