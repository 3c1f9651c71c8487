/**
 * Streaming ListObjectVersions for `--all-versions`, one key at a time with its versions oldest
 * first (the order they are copied in), and the merge-join of a source and a destination listing
 * of keys with versions.
 *
 * Why the answer's XML is read here and not the SDK's parsed output: the SDK hands back
 * `Versions` and `DeleteMarkers` as two separate arrays, which loses where each delete marker
 * stands among a key's versions. LastModified cannot put them back: AWS gives it to the second,
 * so a PUT and a DELETE in the same second tie. The answer lists each key's versions and delete
 * markers interleaved, newest first: that document order is the version order. A middleware keeps
 * the raw body (the SDK still parses it, and still raises S3's errors as usual).
 *
 * Memory: one key's versions are held at a time (a key with a million versions holds a million
 * small entries); pages of 1,000 entries are streamed.
 */
import { Readable } from 'node:stream';
import { ListObjectVersionsCommand, type S3Client } from '@aws-sdk/client-s3';
import { compareKeys, decodeListedKey, type JoinedEntry, mergeJoin } from './listing.js';
import { tagIn } from './object-client.js';

/** One version of a key, or a delete marker, as the listing gives it. */
export interface VersionEntry {
  versionId: string;
  deleteMarker: boolean;
  size: number;
  etag: string;
  lastModifiedMs: number;
}

/** A key and its versions, oldest first. */
export interface KeyVersions {
  key: string;
  versions: VersionEntry[];
}

interface VersionsPage {
  entries: Array<VersionEntry & { key: string }>;
  commonPrefixes: string[];
  isTruncated: boolean;
  nextKeyMarker?: string;
  nextVersionIdMarker?: string;
  encodingType?: string;
}

/** A ListObjectVersions answer, entries in document order (each key's newest first). */
export function parseVersionsPage(xml: string): VersionsPage {
  const entries: VersionsPage['entries'] = [];
  const commonPrefixes: string[] = [];
  let outside = '';
  let pos = 0;
  const entryRe = /<(Version|DeleteMarker|CommonPrefixes)>/g;
  for (;;) {
    entryRe.lastIndex = pos;
    const m = entryRe.exec(xml);
    if (!m) break;
    outside += xml.slice(pos, m.index);
    const tag = m[1]!;
    const end = xml.indexOf(`</${tag}>`, m.index);
    if (end < 0) throw new Error(`ListObjectVersions: unterminated <${tag}>`);
    const body = xml.slice(m.index + tag.length + 2, end);
    pos = end + tag.length + 3;
    if (tag === 'CommonPrefixes') {
      const p = tagIn(body, 'Prefix');
      if (p !== undefined) commonPrefixes.push(p);
      continue;
    }
    const lastModified = tagIn(body, 'LastModified');
    entries.push({
      key: tagIn(body, 'Key') ?? '',
      versionId: tagIn(body, 'VersionId') ?? 'null',
      deleteMarker: tag === 'DeleteMarker',
      size: Number(tagIn(body, 'Size') ?? 0),
      etag: (tagIn(body, 'ETag') ?? '').replace(/"/g, ''),
      lastModifiedMs: lastModified ? Date.parse(lastModified) : 0,
    });
  }
  outside += xml.slice(pos);
  return {
    entries,
    commonPrefixes,
    isTruncated: tagIn(outside, 'IsTruncated') === 'true',
    nextKeyMarker: tagIn(outside, 'NextKeyMarker'),
    nextVersionIdMarker: tagIn(outside, 'NextVersionIdMarker'),
    encodingType: tagIn(outside, 'EncodingType'),
  };
}

async function versionsPage(
  s3: S3Client,
  input: { bucket: string; prefix?: string; delimiter?: string; keyMarker?: string; versionIdMarker?: string },
  signal?: AbortSignal,
): Promise<VersionsPage> {
  const command = new ListObjectVersionsCommand({
    Bucket: input.bucket,
    Prefix: input.prefix || undefined,
    Delimiter: input.delimiter,
    KeyMarker: input.keyMarker || undefined,
    VersionIdMarker: input.versionIdMarker,
    EncodingType: 'url',
  });
  let raw = '';
  // below the SDK's deserializer: the raw answer, read once and handed on unchanged
  command.middlewareStack.add(
    (next) => async (args) => {
      const out = await next(args);
      const response = out.response as { statusCode?: number; body?: Readable };
      if (response.statusCode === 200 && response.body) {
        const chunks: Buffer[] = [];
        for await (const c of response.body) chunks.push(Buffer.from(c as Uint8Array));
        const body = Buffer.concat(chunks);
        raw = body.toString('utf8');
        response.body = Readable.from([body]);
      }
      return out;
    },
    { step: 'deserialize', priority: 'low', name: 'convoyRawVersionsXml' },
  );
  await s3.send(command, { abortSignal: signal });
  const page = parseVersionsPage(raw);
  const decode = (v: string) => decodeListedKey(v, page.encodingType);
  for (const e of page.entries) e.key = decode(e.key);
  page.commonPrefixes = page.commonPrefixes.map(decode);
  if (page.nextKeyMarker !== undefined) page.nextKeyMarker = decode(page.nextKeyMarker);
  return page;
}

export interface VersionsListOptions {
  bucket: string;
  prefix: string;
  /** exclusive lower bound (full key): keys after it, every version of them */
  startAfter?: string;
  /** inclusive upper bound (full key) */
  lastKey?: string;
  /** '/' = only keys directly under the prefix; their child prefixes come as `childPrefix` */
  delimiter?: string;
  signal?: AbortSignal;
}

/**
 * Keys with all their versions (oldest first) and, with a delimiter, the child prefixes, in key
 * order. A key's versions may span pages: it is yielded once its last version is seen.
 */
export async function* listVersionsLevel(
  s3: S3Client,
  opts: VersionsListOptions,
): AsyncGenerator<KeyVersions | { childPrefix: string }> {
  let keyMarker = opts.startAfter || undefined;
  let versionIdMarker: string | undefined;
  let current: KeyVersions | undefined;
  for (;;) {
    const page = await versionsPage(
      s3,
      { bucket: opts.bucket, prefix: opts.prefix, delimiter: opts.delimiter, keyMarker, versionIdMarker },
      opts.signal,
    );
    for (const p of page.commonPrefixes) yield { childPrefix: p };
    for (const { key, ...v } of page.entries) {
      // radosgw 16 answers a KeyMarker without a VersionIdMarker with the marker key's own
      // versions too (AWS starts after it): a range's lower bound is exclusive, so they are skipped
      if (!versionIdMarker && opts.startAfter && compareKeys(key, opts.startAfter) <= 0) continue;
      if (opts.lastKey !== undefined && compareKeys(key, opts.lastKey) > 0) {
        if (current) yield current;
        return;
      }
      if (current && current.key !== key) {
        yield current;
        current = undefined;
      }
      current ??= { key, versions: [] };
      current.versions.unshift(v); // listed newest first
    }
    if (!page.isTruncated || page.nextKeyMarker === undefined) break;
    keyMarker = page.nextKeyMarker;
    versionIdMarker = page.nextVersionIdMarker;
  }
  if (current) yield current;
}

/** Only the keys (no child prefixes) of a listing. */
export async function* listKeyVersions(s3: S3Client, opts: VersionsListOptions): AsyncGenerator<KeyVersions> {
  for await (const e of listVersionsLevel(s3, opts)) if (!('childPrefix' in e)) yield e;
}

/** A destination bucket that does not exist yet (a dry run or verify before --create-buckets) lists as empty. */
export async function* tolerateMissingBucket(it: AsyncIterable<KeyVersions>): AsyncGenerator<KeyVersions> {
  try {
    yield* it;
  } catch (err) {
    if ((err as Error).name !== 'NoSuchBucket') throw err;
  }
}

/** Merge-join two sorted listings of keys with versions by key relative to each side's prefix. */
export function joinVersions(
  src: AsyncIterable<KeyVersions>,
  srcPrefix: string,
  dst: AsyncIterable<KeyVersions>,
  dstPrefix: string,
): AsyncGenerator<JoinedEntry<KeyVersions>> {
  return mergeJoin(src, srcPrefix, dst, dstPrefix);
}
