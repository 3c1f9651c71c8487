/**
 * Copying one object, byte for byte, with its Content-Type and user metadata.
 *
 *  - same endpoint and identity: server-side CopyObject (no bytes through the worker); above
 *    CopyObject's limit (5 GiB on AWS, ./s3-limits.ts) a server-side copy by parts (UploadPartCopy),
 *    or, where the endpoint does not implement that, the streamed copy below;
 *  - otherwise GET -> PUT streamed (never buffered whole): a single PutObject up to the multipart
 *    threshold, lib-storage `Upload` (parallel parts) above it, its part size grown so a huge
 *    object fits in 10,000 parts.
 * Integrity: the GET is conditional on the listed ETag (a source changed since listing is retried,
 * not half-copied); a single-part copy's new ETag must equal the source's MD5 ETag; a multipart
 * copy is hashed while streaming and the whole-object sha256 is stored in the destination's
 * metadata (`convoy-sha256`) next to the source ETag, so later runs and verify can compare objects
 * whose multipart ETags differ.
 */
import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';
import { CopyObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import pLimit from 'p-limit';
import { ConvoyError, NotFoundError, classifyError } from '../../../shared/errors.js';
import { retryTransient } from '../../../shared/backoff.js';
import { META_SHA256, META_SOURCE_ETAG, isMultipartEtag, normalizeEtag, type ListedObject } from './decide.js';
import { carriedChecksumHeader, uploadChecksumAlgorithm } from './checksums.js';
import {
  encodeTagging,
  type ObjectPropertiesSpec,
  propertyHeaders,
  sdkPropertyFields,
  type TagPair,
  tagSetOf,
  type WriteProperties,
  writePropertiesFor,
} from './object-properties.js';
import { partCopy } from './part-copy.js';
import { AWS_S3_LIMITS, partSizeFor, type S3Limits } from './s3-limits.js';
import { streamedBytes } from './streamed-bytes.js';
import type { ContentHeaders, GotObject, S3ObjectClient } from './object-client.js';

/** Objects up to this size are buffered between GET and PUT (bounded by the transfer limit). */
const SMALL_OBJECT_BYTES = 1024 * 1024;

function readBody(stream: NodeJS.ReadableStream, length: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, length)));
    stream.on('error', reject);
  });
}

/** Multipart uploads buffer partSize x queueSize each; bound how many run at once per process. */
const largeUploads = pLimit(4);

export interface CopyTarget {
  /** SDK clients: listing, HEAD, multipart uploads */
  src: S3Client;
  dst: S3Client;
  /** the lean per-object path: GET, PUT, COPY (object-client.ts) */
  srcObjects: S3ObjectClient;
  dstObjects: S3ObjectClient;
  srcBucket: string;
  dstBucket: string;
  /** same endpoint and credentials: CopyObject works */
  serverSide: boolean;
}

export interface CopyOptions {
  multipartThresholdBytes: number;
  /** the preferred part size; grown for objects that would need more than `limits.maxParts` */
  partSizeBytes: number;
  /** the service's size limits @defaultValue AWS's (AWS_S3_LIMITS) */
  limits?: S3Limits;
  signal?: AbortSignal;
  /**
   * awaited after every throttled attempt before it is retried (adaptive rate control counts
   * the throttle and makes the retry wait for its turn like any other request)
   */
  onThrottle?: () => Promise<void>;
  /** tags, storage class, encryption, ACL of the destination (object-properties.ts) @defaultValue tags copied, the rest the bucket's */
  properties?: Partial<ObjectPropertiesSpec>;
}

/**
 * SSE-KMS: on AWS the destination's ETag is then not the MD5 of the bytes, so a copy is checked by
 * Content-MD5 (S3 refuses a body that does not match it) and recorded by its source ETag.
 */
const isKms = (p: WriteProperties) => p.sse === 'aws:kms';

/** The source's tags to send with a streamed copy: only asked for when the GET counted some. */
async function tagsToCarry(
  t: CopyTarget,
  obj: ListedObject,
  tagCount: number,
  opts: CopyOptions,
): Promise<TagPair[] | undefined> {
  if (opts.properties?.tags === 'none' || tagCount <= 0) return undefined;
  return tagSetOf(t.src, t.srcBucket, obj.key, opts.signal).catch((err) => {
    throw sourceError(err, obj.key);
  });
}

export class SourceChangedError extends ConvoyError {
  override name = 'SourceChangedError';
  constructor(key: string, cause?: unknown) {
    super('SOURCE_CHANGED', `source object ${key} changed while it was being copied; it will be copied again`, {
      retryable: true,
      cause,
      context: { key },
    });
  }
}

export class ChecksumMismatchError extends ConvoyError {
  override name = 'ChecksumMismatchError';
  constructor(key: string, expected: string, actual: string) {
    super('CHECKSUM_MISMATCH', `destination ${key} does not match its source (expected ${expected}, got ${actual})`, {
      retryable: true,
      context: { key },
    });
  }
}

/** HTTP entity tags are quoted; listings were normalized without quotes. */
const quoted = (etag: string) => `"${normalizeEtag(etag)}"`;
const plainMd5 = (etag: string) => /^[0-9a-f]{32}$/.test(normalizeEtag(etag));

function copySource(bucket: string, key: string): string {
  return `${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
}

/** Map the SDK's "not found" and "precondition failed" to our classes; the rest by the classifier. */
export function sourceError(err: unknown, key: string): unknown {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  const status = e.$metadata?.httpStatusCode;
  if (e.name === 'NoSuchKey' || e.name === 'NotFound' || status === 404) {
    return new NotFoundError('SOURCE_OBJECT_MISSING', `source object ${key} no longer exists (deleted after listing)`, {
      cause: err,
      context: { key },
    });
  }
  if (e.name === 'PreconditionFailed' || status === 412) return new SourceChangedError(key, err);
  return classifyError(err);
}

/** Our content headers as the SDK's command fields (multipart uploads go through the SDK). */
function sdkContentHeaders(c: ContentHeaders) {
  return {
    ContentType: c.contentType,
    CacheControl: c.cacheControl,
    ContentDisposition: c.contentDisposition,
    ContentEncoding: c.contentEncoding,
    ContentLanguage: c.contentLanguage,
    Expires: c.expires ? new Date(c.expires) : undefined,
  };
}

/**
 * Retry one object's copy on throttling and transient faults, so a 503 SlowDown on one object does
 * not send a whole range item back to the queue; a throttled try slows the endpoint's gate. A
 * source that changed under the copy is not tried again here (the item decides).
 */
function withObjectRetries<T>(
  fn: () => Promise<T>,
  opts: Pick<CopyOptions, 'signal' | 'onThrottle'>,
  attempts = 4,
): Promise<T> {
  return retryTransient(fn, {
    attempts,
    signal: opts.signal,
    final: (e) => e.errorClass === 'SOURCE_CHANGED',
    onRetry: (e) => (e.errorClass === 'THROTTLED' ? opts.onThrottle?.() : undefined),
  });
}

/** Copy one object; returns the bytes that crossed the worker (0 for server-side copies). */
export async function copyObject(
  t: CopyTarget,
  obj: ListedObject,
  destKey: string,
  opts: CopyOptions,
): Promise<{ bytesThroughWorker: number }> {
  const limits = opts.limits ?? AWS_S3_LIMITS;
  if (t.serverSide && obj.size <= limits.copyObjectMaxBytes) {
    await withObjectRetries(() => serverSideCopy(t, obj, destKey, opts), opts);
    return { bytesThroughWorker: 0 };
  }
  if (t.serverSide) {
    const copied = await largeUploads(() =>
      withObjectRetries(() => copyByParts(t, obj, destKey, opts, limits), opts, 2),
    );
    if (copied) return { bytesThroughWorker: 0 };
  }
  if (obj.size > opts.multipartThresholdBytes)
    return largeUploads(() => withObjectRetries(() => streamMultipart(t, obj, destKey, opts), opts, 2));
  // Bodies streamed by single PUTs are bounded in bytes per process (./streamed-bytes.ts). Objects
  // up to SMALL_OBJECT_BYTES do not ask: the transfer limit bounds them (128 x 1 MiB), and theirs
  // is the path whose CPU per object counts.
  if (obj.size <= SMALL_OBJECT_BYTES) return withObjectRetries(() => streamSinglePut(t, obj, destKey, opts), opts);
  return streamedBytes.run(
    obj.size,
    () => withObjectRetries(() => streamSinglePut(t, obj, destKey, opts), opts),
    opts.signal,
  );
}

async function serverSideCopy(t: CopyTarget, obj: ListedObject, destKey: string, opts: CopyOptions): Promise<void> {
  let replace: Parameters<S3ObjectClient['copy']>[2] = {};
  const props = writePropertiesFor(opts.properties ?? {}, obj);
  // A copied multipart (or SSE-KMS) object gets a new ETag: record the source ETag so later runs
  // can skip it. --tags none: a metadata REPLACE too, since radosgw keeps the source's tags on a
  // copy with only the tagging directive REPLACE (AWS drops them; the HEAD costs one request).
  if (isMultipartEtag(obj.etag) || isKms(props) || opts.properties?.tags === 'none') {
    const head = await t.src
      .send(new HeadObjectCommand({ Bucket: t.srcBucket, Key: obj.key, IfMatch: quoted(obj.etag) }), {
        abortSignal: opts.signal,
      })
      .catch((err) => {
        throw sourceError(err, obj.key);
      });
    replace = {
      metadataDirective: 'REPLACE',
      content: {
        contentType: head.ContentType,
        cacheControl: head.CacheControl,
        contentDisposition: head.ContentDisposition,
        contentEncoding: head.ContentEncoding,
        contentLanguage: head.ContentLanguage,
      },
      metadata: { ...head.Metadata, [META_SOURCE_ETAG]: normalizeEtag(obj.etag) },
    };
  }
  await t.dstObjects
    .copy(
      { bucket: t.srcBucket, key: obj.key, ifMatch: quoted(obj.etag) },
      { bucket: t.dstBucket, key: destKey },
      {
        ...replace,
        // tags travel with the copy (COPY), or are dropped (REPLACE with none)
        headers: {
          ...propertyHeaders(props),
          'x-amz-tagging-directive': opts.properties?.tags === 'none' ? 'REPLACE' : 'COPY',
        },
        signal: opts.signal,
      },
    )
    .catch((err) => {
      throw sourceError(err, obj.key);
    });
}

async function getSource(t: CopyTarget, obj: ListedObject, opts: CopyOptions): Promise<GotObject> {
  try {
    return await t.srcObjects.get(t.srcBucket, obj.key, {
      ifMatch: obj.etag ? quoted(obj.etag) : undefined,
      signal: opts.signal,
    });
  } catch (err) {
    throw sourceError(err, obj.key);
  }
}

async function streamSinglePut(
  t: CopyTarget,
  obj: ListedObject,
  destKey: string,
  opts: CopyOptions,
): Promise<{ bytesThroughWorker: number }> {
  const got = await getSource(t, obj, opts);
  const props = writePropertiesFor(opts.properties ?? {}, obj);
  const md5 = plainMd5(obj.etag) && isKms(props);
  try {
    const tags = await tagsToCarry(t, obj, got.tagCount, opts);
    const tagging = tags && encodeTagging(tags);
    // Small bodies are read whole and sent with their headers in one write: piping a few KiB
    // through two sockets costs more in round trips (delayed ACKs) than the memory it saves.
    const body = got.contentLength <= SMALL_OBJECT_BYTES ? await readBody(got.body, got.contentLength) : got.body;
    const put = await t.dstObjects.put(t.dstBucket, destKey, body, {
      contentLength: got.contentLength,
      content: got.content,
      metadata: { ...got.metadata, [META_SOURCE_ETAG]: normalizeEtag(obj.etag) },
      headers: {
        ...propertyHeaders(props, tagging),
        ...(md5 ? { 'content-md5': Buffer.from(normalizeEtag(obj.etag), 'hex').toString('base64') } : {}),
        // the source's whole-object checksum: the destination checks the bytes against it and keeps it
        ...carriedChecksumHeader(got.checksums),
      },
      signal: opts.signal,
    });
    // A single-part ETag is the MD5 of the bytes: equal ETags prove the copy is byte-identical
    // (under SSE-KMS, Content-MD5 proved it instead).
    if (!isKms(props) && plainMd5(obj.etag) && put.etag && put.etag !== normalizeEtag(obj.etag)) {
      throw new ChecksumMismatchError(destKey, normalizeEtag(obj.etag), put.etag);
    }
  } catch (err) {
    got.body.destroy();
    throw err instanceof ConvoyError ? err : classifyError(err);
  }
  return { bytesThroughWorker: got.contentLength };
}

function hashingStream(): { stream: Transform; digest: () => { sha256: string; md5: string; bytes: number } } {
  const sha = createHash('sha256');
  const md5 = createHash('md5');
  let bytes = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      sha.update(chunk);
      md5.update(chunk);
      bytes += chunk.length;
      cb(null, chunk);
    },
  });
  return { stream, digest: () => ({ sha256: sha.digest('hex'), md5: md5.digest('hex'), bytes }) };
}

async function streamMultipart(
  t: CopyTarget,
  obj: ListedObject,
  destKey: string,
  opts: CopyOptions,
): Promise<{ bytesThroughWorker: number }> {
  const got = await getSource(t, obj, opts);
  const props = writePropertiesFor(opts.properties ?? {}, obj);
  let tags: TagPair[] | undefined;
  try {
    tags = await tagsToCarry(t, obj, got.tagCount, opts);
  } catch (err) {
    got.body.destroy();
    throw err;
  }
  const tagging = tags && encodeTagging(tags);
  const claimed = got.metadata[META_SHA256];
  const hashing = hashingStream();
  got.body.on('error', (err) => hashing.stream.destroy(err)).pipe(hashing.stream);
  const metadata: Record<string, string> = { ...got.metadata, [META_SOURCE_ETAG]: normalizeEtag(obj.etag) };
  // the source's additional checksum algorithm (as listed, or as its GET answered: some stores
  // list none): the destination computes and checks it per part, and keeps it
  const checksumAlgorithm = uploadChecksumAlgorithm(obj.checksumAlgorithm ?? got.checksums[0]?.algorithm);
  const upload = new Upload({
    client: t.dst,
    params: {
      Bucket: t.dstBucket,
      Key: destKey,
      Body: hashing.stream,
      ...sdkContentHeaders(got.content),
      Metadata: metadata,
      ChecksumAlgorithm: checksumAlgorithm,
      ...sdkPropertyFields(props, tagging),
    },
    // and again with PutObjectTagging once complete: radosgw 16 ignores x-amz-tagging on
    // CreateMultipartUpload (one request more per tagged multipart object, none for untagged ones)
    tags: tags ?? [],
    partSize: partSizeFor(obj.size, opts.partSizeBytes, opts.limits),
    queueSize: 4,
    leavePartsOnError: false,
  });
  const onAbort = () => void upload.abort().catch(() => undefined);
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await upload.done();
  } catch (err) {
    throw err instanceof ConvoyError ? err : classifyError(err);
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }
  const { sha256, bytes } = hashing.digest();
  if (bytes !== obj.size) throw new SourceChangedError(obj.key);
  if (claimed && claimed !== sha256) throw new ChecksumMismatchError(destKey, claimed, sha256);
  // The sha256 goes on with an in-place rewrite, unless the upload named the source's checksum
  // algorithm: the destination then checked every part against it and keeps it, and a rewrite
  // could lose it (a store that keeps a checksum on a metadata REPLACE only when given a value
  // drops it: fauxqs 2.4.1). Later runs and verify compare by the source ETag recorded with the upload.
  if (!claimed && !checksumAlgorithm)
    await storeChecksum(t, destKey, bytes, got.content, { ...metadata, [META_SHA256]: sha256 }, opts, {
      props,
      tags,
    });
  return { bytesThroughWorker: bytes };
}

/**
 * The checksum is known only once the object is uploaded: store it with an in-place metadata copy
 * (REPLACE): CopyObject up to its limit, a copy of the object onto itself by parts above it. Where
 * the endpoint cannot copy by parts the object keeps the source ETag it was uploaded with (what
 * later runs skip it by); only a reverse sync of it, which compares checksums, copies it again.
 */
async function storeChecksum(
  t: CopyTarget,
  destKey: string,
  bytes: number,
  content: ContentHeaders,
  metadata: Record<string, string>,
  opts: CopyOptions,
  // a copy onto itself sets the storage class, encryption and ACL anew: the upload's again
  written: { props: WriteProperties; tags: TagPair[] | undefined },
): Promise<void> {
  const limits = opts.limits ?? AWS_S3_LIMITS;
  if (bytes <= limits.copyObjectMaxBytes) {
    // radosgw 16 cannot copy an SSE-KMS object (501 NotImplemented): it keeps its source ETag
    const notImplemented = (err: unknown) => {
      const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
      if (e.name === 'NotImplemented' || e.$metadata?.httpStatusCode === 501) return;
      throw err;
    };
    await t.dst
      .send(
        new CopyObjectCommand({
          Bucket: t.dstBucket,
          Key: destKey,
          CopySource: copySource(t.dstBucket, destKey),
          MetadataDirective: 'REPLACE',
          ...sdkContentHeaders(content),
          Metadata: metadata,
          ...sdkPropertyFields(written.props),
          // the tags given explicitly: a metadata REPLACE may drop them (radosgw 16)
          ...(written.tags ? { TaggingDirective: 'REPLACE' as const, Tagging: encodeTagging(written.tags) } : {}),
        }),
        { abortSignal: opts.signal },
      )
      .catch(notImplemented);
    return;
  }
  await partCopy(t.dst, { bucket: t.dstBucket, key: destKey }, { bucket: t.dstBucket, key: destKey }, bytes, {
    partBytes: partSizeFor(bytes, opts.partSizeBytes, limits),
    headers: sdkContentHeaders(content),
    metadata,
    properties: sdkPropertyFields(written.props, written.tags && encodeTagging(written.tags)),
    tags: written.tags,
    signal: opts.signal,
  });
}

/**
 * A server-side copy of an object over CopyObject's limit, by parts: its content headers and
 * metadata from a HEAD (conditional on the listed ETag), then UploadPartCopy of each byte range.
 * False when the endpoint does not implement UploadPartCopy (the caller streams instead).
 */
async function copyByParts(
  t: CopyTarget,
  obj: ListedObject,
  destKey: string,
  opts: CopyOptions,
  limits: S3Limits,
): Promise<boolean> {
  const head = await t.src
    .send(new HeadObjectCommand({ Bucket: t.srcBucket, Key: obj.key, IfMatch: quoted(obj.etag) }), {
      abortSignal: opts.signal,
    })
    .catch((err) => {
      throw sourceError(err, obj.key);
    });
  // UploadPartCopy copies bytes only, and the HEAD does not count tags: ask for them (an
  // endpoint without tags answers something else: none to carry)
  const tagSet =
    opts.properties?.tags === 'none'
      ? undefined
      : await t.srcObjects.getTagging(t.srcBucket, obj.key, opts.signal).catch((err) => {
          throw sourceError(err, obj.key);
        });
  const tags = tagSet?.length ? tagSet : undefined;
  return partCopy(
    t.dst,
    { bucket: t.srcBucket, key: obj.key, ifMatch: quoted(obj.etag) },
    { bucket: t.dstBucket, key: destKey },
    obj.size,
    {
      partBytes: partSizeFor(obj.size, opts.partSizeBytes, limits),
      headers: {
        ContentType: head.ContentType,
        CacheControl: head.CacheControl,
        ContentDisposition: head.ContentDisposition,
        ContentEncoding: head.ContentEncoding,
        ContentLanguage: head.ContentLanguage,
      },
      metadata: { ...head.Metadata, [META_SOURCE_ETAG]: normalizeEtag(obj.etag) },
      properties: sdkPropertyFields(writePropertiesFor(opts.properties ?? {}, obj), tags && encodeTagging(tags)),
      tags,
      signal: opts.signal,
    },
  ).catch((err) => {
    throw sourceError(err, obj.key);
  });
}
