/**
 * verify's look at what a run carried besides bytes, without reading a body: the storage class
 * from the two listings (free: both sides are listed anyway), and, when the run copied tags
 * (`--tags copy`, the default), each object's tags on both sides (two GetObjectTagging requests
 * per identical object, a window of them in flight so verify does not wait one round trip per key).
 * Encryption and ACLs are not compared: the destination's are what the run asked for, not the
 * source's, and a HEAD per object would cost what a listing does not.
 */
import type { ComparedEntry } from './compare.js';
import type { S3ObjectClient } from './object-client.js';
import { encodeTagging, type ObjectPropertiesSpec } from './object-properties.js';

/** Entries checked at once (each two small requests). */
const WINDOW = 32;

/** The storage class a listing means when it names none (S3's default class). */
const classOf = (c: string | undefined) => c || 'STANDARD';

/** The storage class the destination should have, or undefined when the run left it to the bucket. */
export function expectedStorageClass(
  spec: Pick<ObjectPropertiesSpec, 'storageClass'>,
  srcClass: string | undefined,
): string | undefined {
  if (spec.storageClass === undefined) return undefined;
  return spec.storageClass === 'keep' ? classOf(srcClass) : spec.storageClass;
}

/** A tag set in one canonical order, to compare two of them; undefined: the endpoint has no tags. */
async function tagsOf(s3: S3ObjectClient, bucket: string, key: string): Promise<string | undefined> {
  const tags = await s3.getTagging(bucket, key);
  return tags && encodeTagging([...tags].sort((a, b) => (a.Key < b.Key ? -1 : 1)));
}

export interface PropertyCheckTarget {
  /** per pair: source and destination clients and buckets */
  pairs: Array<{ src: S3ObjectClient; dst: S3ObjectClient; srcBucket: string; dstBucket: string }>;
  spec: Pick<ObjectPropertiesSpec, 'storageClass' | 'tags'>;
  /**
   * objects whose tags could not be read (an endpoint without GetObjectTagging, a role without
   * s3:GetObjectTagging): not compared, counted, the first reason kept for the summary
   */
  tagsUnchecked: { count: number; firstError?: string };
  /** set once an endpoint answered a tag read with something else (fauxqs): no more tag reads */
  tagsUnsupported?: boolean;
}

async function check(e: ComparedEntry, t: PropertyCheckTarget): Promise<ComparedEntry> {
  if (e.verdict !== 'ok' || !e.src || !e.dst) return e;
  const want = expectedStorageClass(t.spec, e.src.storageClass);
  if (want !== undefined && classOf(e.dst.storageClass) !== want) return { ...e, verdict: 'storage_class_differs' };
  if (t.spec.tags !== 'copy') return e;
  if (t.tagsUnsupported) {
    t.tagsUnchecked.count++;
    return e;
  }
  const p = t.pairs[e.pair]!;
  let a: string | undefined;
  let b: string | undefined;
  try {
    [a, b] = await Promise.all([tagsOf(p.src, p.srcBucket, e.src.key), tagsOf(p.dst, p.dstBucket, e.dst.key)]);
    if (a === undefined || b === undefined) {
      t.tagsUnsupported = true;
      throw new Error('the endpoint answered ?tagging with something other than a tag set: it has no object tags');
    }
  } catch (err) {
    t.tagsUnchecked.count++;
    t.tagsUnchecked.firstError ??= `${(err as Error).name}: ${(err as Error).message}`.slice(0, 200);
    return e;
  }
  return a === b ? e : { ...e, verdict: 'tags_differ', srcTags: a, dstTags: b };
}

/** The compared entries again, in order, the identical ones checked for storage class and tags. */
export async function* withPropertyVerdicts(
  entries: AsyncIterable<ComparedEntry>,
  t: PropertyCheckTarget,
): AsyncGenerator<ComparedEntry> {
  const window: Promise<ComparedEntry>[] = [];
  for await (const e of entries) {
    const checked = check(e, t);
    checked.catch(() => undefined); // awaited in order below; not an unhandled rejection meanwhile
    window.push(checked);
    if (window.length >= WINDOW) yield await window.shift()!;
  }
  while (window.length) yield await window.shift()!;
}
