/**
 * `--all-versions`: bringing one key's missing versions to a versioned destination, in order.
 *
 * Each source version becomes a new destination version (S3 gives it a new VersionId; the source's
 * is kept in the metadata as `convoy-source-version-id`, see versions-order.ts), oldest first, one
 * request after the other for a key, so the destination's version order is the source's. A
 * source delete marker (with --delete) becomes a DeleteObject without a VersionId at the same
 * place in that order, which is how S3 writes a delete marker.
 *
 * How a version is copied: within one endpoint and identity, CopyObject of `key?versionId=`
 * (no bytes through the worker; up to CopyObject's limit); otherwise GET of that version streamed
 * into a PutObject (lib-storage's Upload above the multipart threshold). A single-part copy's
 * ETag must equal the source's MD5 ETag. Every read of a source version is conditional on its
 * listed ETag (If-Match, CopySourceIfMatch): the "null" version of an unversioned or suspended
 * source can be replaced in place under the same id, and then the copy fails SOURCE_CHANGED
 * (retried, the retry lists it again) instead of labelling new content with the old ETag.
 * These calls go through the SDK, not the lean client of
 * object-client.ts: a versioned migration is rarely bound by per-request CPU.
 */
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import type { Readable } from 'node:stream';
import { Upload } from '@aws-sdk/lib-storage';
import { ConvoyError, NotFoundError, classifyError } from '../../../shared/errors.js';
import { type CopyTarget, SourceChangedError } from './copier.js';
import { META_SOURCE_ETAG, isMultipartEtag, normalizeEtag } from './decide.js';
import { AWS_S3_LIMITS, partSizeFor, type S3Limits } from './s3-limits.js';
import type { KeyVersions, VersionEntry } from './versions-listing.js';
import { decideKeyVersions } from './versions-decide.js';
import { META_SOURCE_VERSION_ID } from './versions-order.js';

export interface VersionCopyOptions {
  multipartThresholdBytes: number;
  partSizeBytes: number;
  limits?: S3Limits;
  /** mirror the source's delete markers (--delete) */
  deleteMarkers: boolean;
  signal: AbortSignal;
  /** throws unless this worker still holds the item: checked before each write */
  assertLease(): void;
  /** waits for the run's fleet-wide budgets before a version is copied */
  beforeCopy?(v: VersionEntry): Promise<void>;
  /**
   * awaited after a throttled copy (503 SlowDown, 429) before it is tried again: adaptive rate
   * control counts the throttle and makes the retry wait its turn (worker/budget/adaptive-rates.ts)
   */
  onThrottle?(): Promise<void>;
}

/** Throttled tries of one version before its key gives up (the item's retry takes over). */
const THROTTLED_TRIES = 8;

export interface KeySyncResult {
  copied: number;
  bytes: number;
  bytesThroughWorker: number;
  markers: number;
  skipped: number;
  skippedBytes: number;
}

function sourceError(err: unknown, key: string, versionId: string): unknown {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  if (
    e.name === 'NoSuchKey' ||
    e.name === 'NoSuchVersion' ||
    e.name === 'NotFound' ||
    e.$metadata?.httpStatusCode === 404
  )
    return new NotFoundError(
      'SOURCE_OBJECT_MISSING',
      `source version ${key}?versionId=${versionId} no longer exists (deleted after listing)`,
      { cause: err, context: { key, versionId } },
    );
  // If-Match / CopySourceIfMatch on the listed ETag failed: the "null" version of an unversioned or
  // suspended source was replaced since the listing. The item's retry lists it again.
  if (e.name === 'PreconditionFailed' || e.$metadata?.httpStatusCode === 412) return new SourceChangedError(key, err);
  return err instanceof ConvoyError ? err : classifyError(err);
}

/** Apply the key's missing versions (and delete markers) to the destination, oldest first. */
export async function syncKeyVersions(
  t: CopyTarget,
  src: KeyVersions,
  dst: KeyVersions | undefined,
  destKey: string,
  opts: VersionCopyOptions,
): Promise<KeySyncResult> {
  const { pending, skipped, skippedBytes } = await decideKeyVersions(
    { s3: t.dst, bucket: t.dstBucket },
    src,
    dst,
    destKey,
    {
      deleteMarkers: opts.deleteMarkers,
      signal: opts.signal,
    },
  );
  const result: KeySyncResult = { copied: 0, bytes: 0, bytesThroughWorker: 0, markers: 0, skipped, skippedBytes };
  for (const v of pending) {
    if (v.deleteMarker) {
      opts.assertLease();
      await t.dst
        .send(new DeleteObjectCommand({ Bucket: t.dstBucket, Key: destKey }), { abortSignal: opts.signal })
        .catch((err) => {
          throw classifyError(err);
        });
      result.markers++;
      continue;
    }
    await opts.beforeCopy?.(v);
    for (let attempt = 1; ; attempt++) {
      opts.assertLease();
      try {
        result.bytesThroughWorker += await copyVersion(t, src.key, v, destKey, opts);
        break;
      } catch (err) {
        // a throttled copy wrote no version: try again once the fleet's rate allows. Any other
        // fault may have written one, so the item's retry (which finds what arrived) decides.
        const e = err instanceof ConvoyError ? err : classifyError(err);
        if (e.errorClass !== 'THROTTLED' || !opts.onThrottle || attempt >= THROTTLED_TRIES || opts.signal.aborted)
          throw err;
        await opts.onThrottle();
      }
    }
    result.copied++;
    result.bytes += v.size;
  }
  return result;
}

/**
 * Remove the version a copy just wrote. radosgw 16 does not answer CopyObject with its VersionId:
 * then it is the key's current version (this item alone writes the key while it holds the lease),
 * taken from a HEAD when it has the ETag the copy reported.
 */
async function deleteWrittenVersion(
  t: CopyTarget,
  destKey: string,
  versionId: string | undefined,
  etag: string,
  signal: AbortSignal,
): Promise<void> {
  let id = versionId;
  if (!id) {
    const head = await t.dst.send(new HeadObjectCommand({ Bucket: t.dstBucket, Key: destKey }), {
      abortSignal: signal,
    });
    if (normalizeEtag(head.ETag) === etag) id = head.VersionId;
  }
  if (id)
    await t.dst.send(new DeleteObjectCommand({ Bucket: t.dstBucket, Key: destKey, VersionId: id }), {
      abortSignal: signal,
    });
}

/** Copy one source version as the destination's newest; returns the bytes through the worker. */
async function copyVersion(
  t: CopyTarget,
  key: string,
  v: VersionEntry,
  destKey: string,
  opts: VersionCopyOptions,
): Promise<number> {
  const limits = opts.limits ?? AWS_S3_LIMITS;
  const provenance = { [META_SOURCE_VERSION_ID]: v.versionId, [META_SOURCE_ETAG]: normalizeEtag(v.etag) };
  // the listed content, not whatever the version id names now (a "null" version is replaced in place)
  const ifMatch = `"${normalizeEtag(v.etag)}"`;
  if (t.serverSide && v.size <= limits.copyObjectMaxBytes) {
    const head = await t.src
      .send(new HeadObjectCommand({ Bucket: t.srcBucket, Key: key, VersionId: v.versionId, IfMatch: ifMatch }), {
        abortSignal: opts.signal,
      })
      .catch((err) => {
        throw sourceError(err, key, v.versionId);
      });
    const copied = await t.dst
      .send(
        new CopyObjectCommand({
          Bucket: t.dstBucket,
          Key: destKey,
          CopySource: `${t.srcBucket}/${key.split('/').map(encodeURIComponent).join('/')}?versionId=${encodeURIComponent(v.versionId)}`,
          CopySourceIfMatch: ifMatch,
          MetadataDirective: 'REPLACE',
          ContentType: head.ContentType,
          CacheControl: head.CacheControl,
          ContentDisposition: head.ContentDisposition,
          ContentEncoding: head.ContentEncoding,
          ContentLanguage: head.ContentLanguage,
          Metadata: { ...head.Metadata, ...provenance },
        }),
        { abortSignal: opts.signal },
      )
      .catch((err) => {
        throw sourceError(err, key, v.versionId);
      });
    // radosgw 16 ignores CopySourceIfMatch (docs/compat.md): a single-part copy's ETag is the MD5
    // of what was copied, so a "null" version replaced before the copy shows here. The copy
    // carries the listed version's provenance: remove it, or a re-run would take it as copied.
    const etag = normalizeEtag(copied.CopyObjectResult?.ETag);
    if (!isMultipartEtag(v.etag) && etag && etag !== normalizeEtag(v.etag)) {
      await deleteWrittenVersion(t, destKey, copied.VersionId, etag, opts.signal);
      throw new SourceChangedError(key);
    }
    return 0;
  }
  const got = await t.src
    .send(new GetObjectCommand({ Bucket: t.srcBucket, Key: key, VersionId: v.versionId, IfMatch: ifMatch }), {
      abortSignal: opts.signal,
    })
    .catch((err) => {
      throw sourceError(err, key, v.versionId);
    });
  const params = {
    Bucket: t.dstBucket,
    Key: destKey,
    Body: got.Body as Readable,
    ContentType: got.ContentType,
    CacheControl: got.CacheControl,
    ContentDisposition: got.ContentDisposition,
    ContentEncoding: got.ContentEncoding,
    ContentLanguage: got.ContentLanguage,
    Metadata: { ...got.Metadata, ...provenance },
  };
  try {
    if (v.size > opts.multipartThresholdBytes) {
      await new Upload({
        client: t.dst,
        params,
        partSize: partSizeFor(v.size, opts.partSizeBytes, opts.limits),
        queueSize: 4,
        leavePartsOnError: false,
      }).done();
      return v.size;
    }
    const put = await t.dst.send(new PutObjectCommand({ ...params, ContentLength: v.size } as never), {
      abortSignal: opts.signal,
    });
    const etag = normalizeEtag(put.ETag);
    if (!isMultipartEtag(v.etag) && etag && etag !== normalizeEtag(v.etag)) {
      // the bad version carries the source's VersionId: remove it, or a re-run would take it as copied
      if (put.VersionId)
        await t.dst.send(new DeleteObjectCommand({ Bucket: t.dstBucket, Key: destKey, VersionId: put.VersionId }));
      throw new ConvoyError(
        'CHECKSUM_MISMATCH',
        `destination ${destKey} does not match source version ${v.versionId} (expected ${normalizeEtag(v.etag)}, got ${etag})`,
        { retryable: true, context: { key: destKey } },
      );
    }
    return v.size;
  } catch (err) {
    (got.Body as { destroy?: () => void } | undefined)?.destroy?.();
    throw err instanceof ConvoyError ? err : classifyError(err);
  }
}
