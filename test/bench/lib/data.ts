/**
 * Benchmark data: the object sets of each case, generated into a source bucket, and the check
 * that a destination bucket holds every object with the right size (and, for a sample, the right
 * bytes). A benchmark that silently copies nothing is worse than none, so every tool's result is
 * verified before its figures count.
 *
 * Object bodies are slices of one random buffer with the key written over the first bytes: unique
 * per object, incompressible, and re-creatable from the key alone for the content check.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import pLimit from 'p-limit';

export const KiB = 1024;
export const MiB = 1024 * 1024;

export interface ObjectSpec {
  key: string;
  size: number;
}

/** The objects of one case: `count` objects of `size` bytes under a few prefixes. */
export function caseObjects(caseId: string, count: number, size: number, prefixes = 20): ObjectSpec[] {
  const out: ObjectSpec[] = [];
  for (let i = 0; i < count; i++) {
    out.push({
      key: `${caseId}/p${String(i % prefixes).padStart(2, '0')}/obj-${String(i).padStart(6, '0')}.bin`,
      size,
    });
  }
  return out;
}

export function totalBytes(objects: ObjectSpec[]): number {
  return objects.reduce((sum, o) => sum + o.size, 0);
}

/** Deterministic bodies for a benchmark run: one random pool, sliced per key. */
export class BodyFactory {
  private readonly pool: Buffer;

  constructor(maxSize: number) {
    // one extra MiB so objects of the largest size still start at different offsets
    this.pool = randomBytes(maxSize + MiB);
  }

  body(key: string, size: number): Buffer {
    const digest = createHash('sha1').update(key).digest();
    const span = this.pool.length - size;
    const offset = span > 0 ? digest.readUInt32BE(0) % span : 0;
    const body = Buffer.from(this.pool.subarray(offset, offset + size)); // a copy: the header below must not touch the pool
    body.write(`${key}\n`.slice(0, size), 0, 'utf8');
    return body;
  }
}

export async function ensureBucket(s3: S3Client, bucket: string): Promise<void> {
  try {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (err) {
    const name = (err as Error).name;
    if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') throw err;
  }
}

/** Write every object of `objects` into `bucket` (created if missing). */
export async function populateBucket(
  s3: S3Client,
  bucket: string,
  objects: ObjectSpec[],
  bodies: BodyFactory,
  concurrency = 32,
): Promise<void> {
  await ensureBucket(s3, bucket);
  const limit = pLimit(concurrency);
  await Promise.all(
    objects.map((o) =>
      limit(() =>
        s3.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: o.key,
            Body: bodies.body(o.key, o.size),
            ContentLength: o.size,
            ContentType: 'application/octet-stream',
          }),
        ),
      ),
    ),
  );
}

/** List a bucket (key -> size); an absent bucket lists as empty. */
export async function listBucket(s3: S3Client, bucket: string, prefix?: string): Promise<Map<string, number>> {
  const found = new Map<string, number>();
  let token: string | undefined;
  try {
    do {
      const page = await s3.send(
        new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
      );
      for (const o of page.Contents ?? []) found.set(o.Key!, o.Size ?? 0);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  } catch (err) {
    if ((err as Error).name === 'NoSuchBucket') return found;
    throw err;
  }
  return found;
}

export interface BucketCheck {
  expected: number;
  found: number;
  missing: string[];
  sizeDiffers: string[];
  extra: string[];
  contentChecked: number;
  contentDiffers: string[];
  ok: boolean;
}

/** Pure comparison of a listing with the expected objects. */
export function compareListing(
  expected: ObjectSpec[],
  listing: Map<string, number>,
): Omit<BucketCheck, 'contentChecked' | 'contentDiffers' | 'ok'> {
  const missing: string[] = [];
  const sizeDiffers: string[] = [];
  const wanted = new Set<string>();
  for (const o of expected) {
    wanted.add(o.key);
    const size = listing.get(o.key);
    if (size === undefined) missing.push(o.key);
    else if (size !== o.size) sizeDiffers.push(o.key);
  }
  const extra = [...listing.keys()].filter((k) => !wanted.has(k));
  return { expected: expected.length, found: listing.size, missing, sizeDiffers, extra };
}

/** Every `step`-th object, so the sample covers all prefixes. */
export function sampleObjects(objects: ObjectSpec[], n: number): ObjectSpec[] {
  if (objects.length <= n) return objects;
  const step = objects.length / n;
  return Array.from({ length: n }, (_, i) => objects[Math.floor(i * step)]!);
}

/**
 * Check a destination bucket: every object present with its size, nothing extra, and the bytes of
 * a sample of objects equal to what was generated.
 */
export async function checkBucket(
  s3: S3Client,
  bucket: string,
  expected: ObjectSpec[],
  bodies: BodyFactory,
  sample = 16,
): Promise<BucketCheck> {
  const listing = await listBucket(s3, bucket);
  const cmp = compareListing(expected, listing);
  const contentDiffers: string[] = [];
  const toCheck = sampleObjects(expected, sample).filter((o) => listing.has(o.key));
  for (const o of toCheck) {
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: o.key }));
    const bytes = Buffer.from(await got.Body!.transformToByteArray());
    if (!bytes.equals(bodies.body(o.key, o.size))) contentDiffers.push(o.key);
  }
  const ok =
    cmp.missing.length === 0 && cmp.sizeDiffers.length === 0 && cmp.extra.length === 0 && contentDiffers.length === 0;
  return { ...cmp, contentChecked: toCheck.length, contentDiffers, ok };
}

export function describeCheck(bucket: string, c: BucketCheck): string {
  const first = (keys: string[]) => (keys.length ? ` (e.g. ${keys.slice(0, 3).join(', ')})` : '');
  return (
    `${bucket}: ${c.found}/${c.expected} objects; missing ${c.missing.length}${first(c.missing)}, ` +
    `size differs ${c.sizeDiffers.length}${first(c.sizeDiffers)}, extra ${c.extra.length}${first(c.extra)}, ` +
    `content differs ${c.contentDiffers.length}/${c.contentChecked} sampled${first(c.contentDiffers)}`
  );
}

/** Delete a bucket and everything in it (frees the in-memory emulator between tools). */
export async function deleteBucket(s3: S3Client, bucket: string): Promise<void> {
  const keys = [...(await listBucket(s3, bucket)).keys()];
  for (let i = 0; i < keys.length; i += 1000) {
    await s3.send(
      new DeleteObjectsCommand({
        Bucket: bucket,
        Delete: { Objects: keys.slice(i, i + 1000).map((Key) => ({ Key })), Quiet: true },
      }),
    );
  }
  try {
    await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
  } catch (err) {
    if ((err as Error).name !== 'NoSuchBucket') throw err;
  }
}

/**
 * Before a case's measured runs, send the endpoints the kinds of request every tool will: GET a
 * sample of the source (at most `maxBytes`, at least 16 objects), PUT and HEAD each in a scratch
 * bucket on the destination, list the source, delete the scratch bucket. Without this the first tool of a case paid for
 * the emulator's warm-up (its GET and list paths compiled, the seeding's garbage collected):
 * measured on 1,000 x 16 KiB, rclone64 run first cost the S3 endpoints 1.14 ms per object and
 * convoy after it 0.59; with convoy first, convoy 1.06 and rclone64 0.69. The harness's own
 * traffic: it goes around the counting proxies and outside every measured window.
 */
export async function warmUpEndpoints(
  src: S3Client,
  srcBucket: string,
  dst: S3Client,
  scratchBucket: string,
  objects: ObjectSpec[],
  maxBytes = 64 * MiB,
): Promise<number> {
  const size = Math.max(1, objects[0]?.size ?? 1);
  const sample = sampleObjects(objects, Math.max(16, Math.min(1_000, Math.floor(maxBytes / size))));
  await ensureBucket(dst, scratchBucket);
  try {
    const limit = pLimit(32);
    await Promise.all(
      sample.map((o) =>
        limit(async () => {
          const got = await src.send(new GetObjectCommand({ Bucket: srcBucket, Key: o.key }));
          const body = Buffer.from(await got.Body!.transformToByteArray());
          await dst.send(
            new PutObjectCommand({ Bucket: scratchBucket, Key: o.key, Body: body, ContentLength: body.length }),
          );
          await dst.send(new HeadObjectCommand({ Bucket: scratchBucket, Key: o.key }));
        }),
      ),
    );
    await listBucket(src, srcBucket);
  } finally {
    await deleteBucket(dst, scratchBucket);
  }
  return sample.length;
}
