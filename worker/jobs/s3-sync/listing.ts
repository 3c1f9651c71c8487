/**
 * Streaming S3 listings (ListObjectsV2, 1,000 keys a page; never a whole listing in memory) and
 * the merge-join of a source and a destination listing by relative key (mc mirror's approach:
 * both listings are sorted, so one pass compares them with flat memory).
 *
 * Every listing asks for URL-encoded keys (EncodingType=url, as aws-cli and rclone do): XML 1.0
 * cannot carry some characters a key may hold, and an XML parser turns a carriage return into a
 * line feed, so a key with a CR was listed as another key and its copy failed as "deleted".
 *
 * A listing through the lean client (object-client.ts: a signed GET and a string-search parse)
 * is what workers use for their items and the planner for the source (its pages were ~0.03 ms of
 * CPU per object of a small run through the SDK's XML parser, in a process that now also works
 * the run with `plan --work`); the SDK's ListObjectsV2 remains for the tools and the checks.
 */
import { listedChecksumAlgorithm } from './checksums.js';
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { ListedObject } from './decide.js';
import { S3ObjectClient, type ListPage } from './object-client.js';

/**
 * A key, prefix or StartAfter as a listing returned it: S3 encodes them as form data (a space as
 * `+`, a `+` as `%2B`) when the response says `EncodingType: url`. An endpoint that ignores the
 * parameter (some emulators) says nothing and sends keys as they are, so those are left alone.
 */
export function decodeListedKey(value: string, encodingType: string | undefined): string {
  return encodingType === 'url' ? decodeURIComponent(value.replace(/\+/g, ' ')) : value;
}

export interface ListOptions {
  bucket: string;
  prefix: string;
  /** exclusive lower bound (full key) */
  startAfter?: string;
  /** inclusive upper bound (full key): stop after it */
  lastKey?: string;
  /** '/' = only the objects directly under the prefix (not in child "directories") */
  delimiter?: string;
  /**
   * keys per page @defaultValue 1000. A range item knows how many keys it holds: asking for
   * that many (+1, to see the key past its end) keeps a 10-key range from listing 1,000 keys
   * of the rest of the bucket, which the worker and the endpoint would parse and throw away.
   */
  maxKeys?: number;
  /**
   * a budget of requests shared by several listings: each page takes one, and a listing that finds
   * none left stops there, with `cutOff` set (the planner lists only so much itself)
   */
  pages?: PageBudget;
  signal?: AbortSignal;
}

export interface PageBudget {
  left: number;
  /** set when a listing stopped for want of pages, with more of it to list */
  cutOff?: boolean;
}

/**
 * S3 lists keys in UTF-8 byte order; JavaScript compares UTF-16 code units, which differs only for
 * characters above U+D7FF. Fast path for the common case, exact comparison otherwise.
 */
export function compareKeys(a: string, b: string): number {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the range starts at U+0000 on purpose (every BMP code unit below the surrogates)
  if (/^[\u0000-\ud7ff]*$/.test(a) && /^[\u0000-\ud7ff]*$/.test(b)) return a < b ? -1 : a > b ? 1 : 0;
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** One page from either client, in the lean client's shape. */
async function listPage(
  s3: S3Client | S3ObjectClient,
  bucket: string,
  params: { prefix?: string; delimiter?: string; startAfter?: string; continuationToken?: string; maxKeys?: number },
  signal: AbortSignal | undefined,
): Promise<ListPage> {
  if (s3 instanceof S3ObjectClient) return s3.listPage(bucket, { ...params, encodingType: 'url' }, signal);
  const out = await s3.send(
    new ListObjectsV2Command({
      Bucket: bucket,
      Prefix: params.prefix,
      Delimiter: params.delimiter,
      StartAfter: params.startAfter,
      ContinuationToken: params.continuationToken,
      MaxKeys: params.maxKeys,
      EncodingType: 'url',
    }),
    { abortSignal: signal },
  );
  return {
    contents: (out.Contents ?? []).map((o) => ({
      key: o.Key!,
      size: o.Size ?? 0,
      etag: (o.ETag ?? '').replace(/"/g, ''),
      lastModifiedMs: o.LastModified?.getTime() ?? 0,
      checksumAlgorithm: listedChecksumAlgorithm(o.ChecksumAlgorithm),
      storageClass: o.StorageClass,
    })),
    commonPrefixes: (out.CommonPrefixes ?? []).map((p) => p.Prefix!),
    isTruncated: out.IsTruncated === true,
    nextContinuationToken: out.NextContinuationToken,
    encodingType: out.EncodingType,
  };
}

export async function* listObjects(s3: S3Client | S3ObjectClient, opts: ListOptions): AsyncGenerator<ListedObject> {
  let token: string | undefined;
  let startAfter = opts.startAfter || undefined;
  do {
    if (opts.pages && opts.pages.left-- <= 0) {
      opts.pages.cutOff = true;
      return;
    }
    const out = await listPage(
      s3,
      opts.bucket,
      {
        prefix: opts.prefix || undefined,
        delimiter: opts.delimiter,
        startAfter: token ? undefined : startAfter,
        continuationToken: token,
        maxKeys: Math.min(1000, Math.max(1, opts.maxKeys ?? 1000)),
      },
      opts.signal,
    );
    for (const obj of out.contents) {
      obj.key = decodeListedKey(obj.key, out.encodingType);
      if (opts.lastKey !== undefined && compareKeys(obj.key, opts.lastKey) > 0) return;
      yield obj;
    }
    token = out.isTruncated ? out.nextContinuationToken : undefined;
    startAfter = undefined;
  } while (token);
}

/** One level of a prefix, streamed: objects directly under it and its child "directories". */
export async function* listLevel(
  s3: S3Client | S3ObjectClient,
  bucket: string,
  prefix: string,
  signal?: AbortSignal,
): AsyncGenerator<{ object: ListedObject } | { childPrefix: string }> {
  let token: string | undefined;
  do {
    const out = await listPage(
      s3,
      bucket,
      { prefix: prefix || undefined, delimiter: '/', continuationToken: token },
      signal,
    );
    for (const o of out.contents) yield { object: { ...o, key: decodeListedKey(o.key, out.encodingType) } };
    for (const p of out.commonPrefixes) yield { childPrefix: decodeListedKey(p, out.encodingType) };
    token = out.isTruncated ? out.nextContinuationToken : undefined;
  } while (token);
}

export interface JoinedEntry<T extends { key: string } = ListedObject> {
  /** key relative to each side's prefix */
  rel: string;
  src?: T;
  dst?: T;
}

/** Merge-join two sorted listings (of objects, or of keys with their versions) by relative key. */
export async function* mergeJoin<T extends { key: string } = ListedObject>(
  src: AsyncIterable<T>,
  srcPrefix: string,
  dst: AsyncIterable<T>,
  dstPrefix: string,
): AsyncGenerator<JoinedEntry<T>> {
  const si = src[Symbol.asyncIterator]();
  const di = dst[Symbol.asyncIterator]();
  let s = await si.next();
  let d = await di.next();
  while (!s.done || !d.done) {
    const sRel = s.done ? undefined : s.value.key.slice(srcPrefix.length);
    const dRel = d.done ? undefined : d.value.key.slice(dstPrefix.length);
    const order = sRel === undefined ? 1 : dRel === undefined ? -1 : compareKeys(sRel, dRel);
    if (order < 0) {
      yield { rel: sRel!, src: s.value as T };
      s = await si.next();
    } else if (order > 0) {
      yield { rel: dRel!, dst: d.value as T };
      d = await di.next();
    } else {
      yield { rel: sRel!, src: s.value as T, dst: d.value as T };
      s = await si.next();
      d = await di.next();
    }
  }
}
