/**
 * S3ObjectClient: the per-object data path of s3-sync (GET, PUT, server-side COPY, list pages,
 * tags) as signed requests through shared/s3-requests.ts, which says why not the SDK: for buckets
 * of millions of small objects that is the whole difference in throughput (docs/benchmarks.md).
 * Profiled again in bench:s3 case (e) (2026-12-02), the rest of the per-request cost was the SDK's
 * signer (12% of the worker's CPU: now shared/sigv4.ts, synchronous) and an abort listener per
 * request (4%: now one per item signal). This module adds what s3-sync reads and writes: content
 * headers, user metadata, additional checksums, ListObjectsV2 pages.
 */
import {
  type ChecksumAlgorithm,
  checksumsOfHeaders,
  listedChecksumAlgorithm,
  type ObjectChecksum,
} from './checksums.js';

const CHECKSUM_MODE = { 'x-amz-checksum-mode': 'ENABLED' };
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import type { RemoteConfig } from '../../../shared/config.js';
import { encodeKey, errorFrom, readAll, S3ResponseError, S3Requests, xmlTag } from '../../../shared/s3-requests.js';

export interface ContentHeaders {
  contentType?: string;
  cacheControl?: string;
  contentDisposition?: string;
  contentEncoding?: string;
  contentLanguage?: string;
  expires?: string;
}

export interface GotObject {
  body: IncomingMessage;
  contentLength: number;
  etag: string;
  content: ContentHeaders;
  metadata: Record<string, string>;
  /** x-amz-tagging-count: the object's tags, counted (0: none, so no GetObjectTagging needed) */
  tagCount: number;
  /** the source's additional checksums, as the GET answered them (checksums.ts) */
  checksums: ObjectChecksum[];
}

const CONTENT_HEADERS: Array<[keyof ContentHeaders, string]> = [
  ['contentType', 'content-type'],
  ['cacheControl', 'cache-control'],
  ['contentDisposition', 'content-disposition'],
  ['contentEncoding', 'content-encoding'],
  ['contentLanguage', 'content-language'],
  ['expires', 'expires'],
];

function contentHeadersFrom(h: IncomingHttpHeaders): ContentHeaders {
  const out: ContentHeaders = {};
  for (const [field, header] of CONTENT_HEADERS) {
    const v = h[header];
    if (typeof v === 'string') out[field] = v;
  }
  return out;
}

function metadataFrom(h: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h))
    if (k.startsWith('x-amz-meta-') && typeof v === 'string') out[k.slice(11)] = v;
  return out;
}

function requestHeaders(
  content: ContentHeaders | undefined,
  metadata: Record<string, string> | undefined,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [field, header] of CONTENT_HEADERS) {
    const v = content?.[field];
    if (v !== undefined) out[header] = v;
  }
  for (const [k, v] of Object.entries(metadata ?? {})) out[`x-amz-meta-${k.toLowerCase()}`] = v;
  return out;
}

/** One ListObjectsV2 page: keys, prefixes and tokens as sent (URL-encoded when `encodingType` says so). */
export interface ListPage {
  contents: Array<{
    key: string;
    size: number;
    etag: string;
    lastModifiedMs: number;
    checksumAlgorithm?: ChecksumAlgorithm;
    storageClass?: string;
  }>;
  commonPrefixes: string[];
  isTruncated: boolean;
  nextContinuationToken: string | undefined;
  encodingType: string | undefined;
}

const XML_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** XML character data to text: the five named entities and numeric references. */
export function unescapeXml(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (m, e: string) =>
    e[0] === '#'
      ? String.fromCodePoint(e[1] === 'x' ? Number.parseInt(e.slice(2), 16) : Number(e.slice(1)))
      : (XML_ENTITIES[e] ?? m),
  );
}

/** The text of the first `<tag>` in `xml` (one entry, or the page outside its entries), or undefined. */
export function tagIn(xml: string, tag: string): string | undefined {
  const open = xml.indexOf(`<${tag}>`);
  if (open < 0) return undefined;
  const start = open + tag.length + 2;
  const end = xml.indexOf(`</${tag}>`, start);
  return end < 0 ? undefined : unescapeXml(xml.slice(start, end));
}

/**
 * A ListObjectsV2 answer, read with string searches: its elements are flat and their names fixed
 * (Contents with Key, Size, ETag, LastModified; CommonPrefixes with Prefix; the page's
 * IsTruncated, NextContinuationToken, EncodingType). Unlike an XML parser it leaves a carriage
 * return in a key as it is (XML parsers turn it into a line feed).
 */
export function parseListPage(xml: string): ListPage {
  const contents: ListPage['contents'] = [];
  const commonPrefixes: string[] = [];
  // the page's own fields come after the last entry or before the first; search outside entries
  let outside = '';
  let pos = 0;
  // each kind's next start, searched again only once passed (a page without prefixes would
  // otherwise be scanned to its end for every entry)
  let c = xml.indexOf('<Contents>');
  let p = xml.indexOf('<CommonPrefixes>');
  for (;;) {
    if (c >= 0 && c < pos) c = xml.indexOf('<Contents>', pos);
    if (p >= 0 && p < pos) p = xml.indexOf('<CommonPrefixes>', pos);
    const next = c < 0 ? p : p < 0 ? c : Math.min(c, p);
    if (next < 0) break;
    outside += xml.slice(pos, next);
    if (next === c) {
      const end = xml.indexOf('</Contents>', c);
      if (end < 0) throw new Error('ListObjectsV2: unterminated <Contents>');
      const entry = xml.slice(c, end);
      const key = tagIn(entry, 'Key');
      if (key === undefined) throw new Error('ListObjectsV2: <Contents> without <Key>');
      const lastModified = tagIn(entry, 'LastModified');
      contents.push({
        key,
        size: Number(tagIn(entry, 'Size') ?? 0),
        etag: (tagIn(entry, 'ETag') ?? '').replace(/"/g, ''),
        lastModifiedMs: lastModified ? Date.parse(lastModified) : 0,
        checksumAlgorithm: listedChecksumAlgorithm([tagIn(entry, 'ChecksumAlgorithm') ?? '']),
        storageClass: tagIn(entry, 'StorageClass'),
      });
      pos = end + 11;
    } else {
      const end = xml.indexOf('</CommonPrefixes>', p);
      if (end < 0) throw new Error('ListObjectsV2: unterminated <CommonPrefixes>');
      const prefix = tagIn(xml.slice(p, end), 'Prefix');
      if (prefix !== undefined) commonPrefixes.push(prefix);
      pos = end + 17;
    }
  }
  outside += xml.slice(pos);
  return {
    contents,
    commonPrefixes,
    isTruncated: tagIn(outside, 'IsTruncated') === 'true',
    nextContinuationToken: tagIn(outside, 'NextContinuationToken'),
    encodingType: tagIn(outside, 'EncodingType'),
  };
}

export class S3ObjectClient {
  private readonly requests: S3Requests;

  constructor(remote: RemoteConfig, opts: { maxSockets?: number } = {}) {
    this.requests = new S3Requests(remote, opts);
  }

  /**
   * One page of ListObjectsV2, parsed by `parseListPage` (the SDK's XML parser and deserializer
   * were 7% of the worker's CPU in bench:s3 case e).
   */
  async listPage(
    bucket: string,
    params: {
      prefix?: string;
      delimiter?: string;
      startAfter?: string;
      continuationToken?: string;
      maxKeys?: number;
      encodingType?: 'url';
    },
    signal?: AbortSignal,
  ): Promise<ListPage> {
    const query: Record<string, string> = { 'list-type': '2' };
    if (params.prefix) query.prefix = params.prefix;
    if (params.delimiter) query.delimiter = params.delimiter;
    if (params.startAfter) query['start-after'] = params.startAfter;
    if (params.continuationToken) query['continuation-token'] = params.continuationToken;
    if (params.maxKeys !== undefined) query['max-keys'] = String(params.maxKeys);
    if (params.encodingType) query['encoding-type'] = params.encodingType;
    const res = await this.requests.send('GET', bucket, undefined, {}, undefined, signal, query);
    if (res.statusCode !== 200) throw await errorFrom(res, `LIST ${bucket}/${params.prefix ?? ''}`);
    return parseListPage(await readAll(res));
  }

  /** GET an object, conditional on its ETag (`ifMatch`, quoted), as a stream. */
  async get(bucket: string, key: string, opts: { ifMatch?: string; signal?: AbortSignal } = {}): Promise<GotObject> {
    const res = await this.requests.getStream(bucket, key, {
      // the additional checksum comes only when asked for (checksums.ts: a copy carries it)
      headers: opts.ifMatch ? { 'if-match': opts.ifMatch, ...CHECKSUM_MODE } : CHECKSUM_MODE,
      signal: opts.signal,
    });
    return {
      body: res,
      contentLength: Number(res.headers['content-length'] ?? 0),
      etag: String(res.headers.etag ?? '').replace(/"/g, ''),
      content: contentHeadersFrom(res.headers),
      metadata: metadataFrom(res.headers),
      tagCount: Number(res.headers['x-amz-tagging-count'] ?? 0),
      checksums: checksumsOfHeaders(res.headers),
    };
  }

  /** PUT an object of known length from a stream or buffer; returns its ETag. */
  async put(
    bucket: string,
    key: string,
    body: Readable | Buffer,
    opts: {
      contentLength: number;
      content?: ContentHeaders;
      metadata?: Record<string, string>;
      /** more x-amz-* request headers (object-properties.ts: storage class, encryption, ACL, tags) */
      headers?: Record<string, string>;
      signal?: AbortSignal;
    },
  ): Promise<{ etag: string }> {
    const headers = {
      'content-length': String(opts.contentLength),
      ...requestHeaders(opts.content, opts.metadata),
      ...opts.headers,
    };
    const res = await this.requests.send('PUT', bucket, key, headers, body, opts.signal);
    if (res.statusCode !== 200) throw await errorFrom(res, `PUT ${bucket}/${key}`);
    res.resume();
    return { etag: String(res.headers.etag ?? '').replace(/"/g, '') };
  }

  /**
   * Server-side copy. S3 can answer 200 and still fail (an <Error> body sent after the copy ran),
   * so the body is always read.
   */
  async copy(
    src: { bucket: string; key: string; ifMatch?: string },
    dst: { bucket: string; key: string },
    opts: {
      metadataDirective?: 'COPY' | 'REPLACE';
      content?: ContentHeaders;
      metadata?: Record<string, string>;
      /** more x-amz-* request headers (object-properties.ts: storage class, encryption, ACL, tagging directive) */
      headers?: Record<string, string>;
      signal?: AbortSignal;
    } = {},
  ): Promise<{ etag: string }> {
    const headers: Record<string, string> = {
      'x-amz-copy-source': `/${src.bucket}/${encodeKey(src.key)}`,
      ...opts.headers,
    };
    if (src.ifMatch) headers['x-amz-copy-source-if-match'] = src.ifMatch;
    if (opts.metadataDirective === 'REPLACE')
      Object.assign(headers, { 'x-amz-metadata-directive': 'REPLACE' }, requestHeaders(opts.content, opts.metadata));
    const res = await this.requests.send('PUT', dst.bucket, dst.key, headers, undefined, opts.signal);
    if (res.statusCode !== 200) throw await errorFrom(res, `COPY ${src.bucket}/${src.key} -> ${dst.bucket}/${dst.key}`);
    const text = await readAll(res);
    const code = xmlTag(text, 'Code');
    if (code)
      throw new S3ResponseError(
        code,
        `COPY ${src.bucket}/${src.key}: ${xmlTag(text, 'Message') ?? code}`,
        code === 'SlowDown' || code === 'InternalError' ? 503 : 400,
      );
    return { etag: (xmlTag(text, 'ETag') ?? '').replace(/&quot;|"/g, '') };
  }

  /**
   * An object's tags (GetObjectTagging), or undefined when the endpoint answered with something
   * that is not a tag set (fauxqs answers `?tagging` with the object's body): that answer is not
   * read any further. For callers that do not know whether the endpoint implements tags.
   */
  async getTagging(
    bucket: string,
    key: string,
    signal?: AbortSignal,
  ): Promise<Array<{ Key: string; Value: string }> | undefined> {
    const res = await this.requests.send('GET', bucket, key, {}, undefined, signal, { tagging: '' });
    if (res.statusCode !== 200) throw await errorFrom(res, `GET ${bucket}/${key}?tagging`);
    if (!String(res.headers['content-type'] ?? '').includes('xml')) {
      res.destroy();
      return undefined;
    }
    const xml = await readAll(res);
    if (!xml.includes('<Tagging')) return undefined;
    return [...xml.matchAll(/<Tag>([\s\S]*?)<\/Tag>/g)].map((m) => ({
      Key: tagIn(m[1]!, 'Key') ?? '',
      Value: tagIn(m[1]!, 'Value') ?? '',
    }));
  }

  destroy(): void {
    this.requests.destroy();
  }
}
