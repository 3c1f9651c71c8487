/**
 * A server-side copy of a large object spread over the fleet as child items, no bytes through any
 * worker (S3's way past CopyObject's 5 GiB: UploadPartCopy).
 *
 *  - The range item that meets the object (`startSpreadCopy`) HEADs the source, creates the
 *    multipart upload, copies part 1 itself (an endpoint without UploadPartCopy is found before
 *    anything is written: the caller then streams the object as before), records the upload in a
 *    part-copy row (state/part-copies.ts) and adds one child item per batch of parts.
 *  - Each child (`copyPartsItem`) copies its parts (UploadPartCopy, conditional on the source
 *    ETag), saving each part's ETag in its item checkpoint, so a re-delivered child copies only the
 *    parts it has not; then it marks itself copied in the row and tries to claim the completion.
 *  - The one child whose claim wins (the row's conditional write: all children copied, no other
 *    completer) reads its siblings' part ETags from their item rows, completes the upload with all
 *    parts in order, and checks the result: size, the multipart ETag the parts predict, and the
 *    source ETag in convoy's metadata. The run cannot be done before that: the completer's own item
 *    is still open while it completes.
 *  - A child failing for good (a permanent error, or its last attempt) marks the row failed,
 *    aborts the upload (its parts would be billed until a lifecycle rule removed them) and fails
 *    with its error class, which is what reports the object; its siblings then end without work.
 *    A later run copies the object again.
 * A creator killed between creating the upload and writing the row leaves an upload no row names;
 * the re-delivered item starts a new one (an AbortIncompleteMultipartUpload lifecycle rule on the
 * destination cleans such leftovers, as docs/s3-sync.md says).
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  type S3Client,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { ConvoyError, classifyError } from '../../../shared/errors.js';
import { DEFAULT_RETRY_POLICY } from '../../../shared/retry-policy.js';
import { getItem } from '../../../state/items.js';
import type { ItemRow, NewItem } from '../../../state/item-row.js';
import {
  claimCompletion,
  completePartCopy,
  createPartCopy,
  failPartCopy,
  getPartCopy,
  markChildCopied,
  type PartCopyRef,
} from '../../../state/part-copies.js';
import type { ItemContext, ItemOutcome } from '../../job-kind.js';
import { ChecksumMismatchError, type CopyTarget, sourceError } from './copier.js';
import { META_SOURCE_ETAG, normalizeEtag, type ListedObject } from './decide.js';
import { copyTargetFor } from './endpoints.js';
import { encodeTagging, sdkPropertyFields, writePropertiesFor } from './object-properties.js';
import { unsupported } from './part-copy.js';
import {
  batchBytes,
  childBatches,
  multipartEtag,
  partRange,
  partsItemId,
  partsPerItemFor,
  predictableEtags,
  spreads,
} from './part-copy-plan.js';
import { AWS_S3_LIMITS, partCount, partSizeFor } from './s3-limits.js';
import { groupOf, type S3SyncSpec } from './spec.js';

/** A child item: parts `first`..`last` of one object's upload. */
export interface PartsItemSpec {
  type: 'parts';
  pair: number;
  key: string;
  destKey: string;
  /** the listed source ETag (unquoted): every part copy is conditional on it */
  etag: string;
  size: number;
  partBytes: number;
  first: number;
  last: number;
  /** parts per child item: with `size` and `partBytes`, names every sibling */
  perItem: number;
}

const objectRef = (runId: string, pair: number, destKey: string): PartCopyRef => ({
  runId,
  object: `${pair}#${destKey}`,
});
const quoted = (etag: string) => `"${normalizeEtag(etag)}"`;
const copySourceOf = (bucket: string, key: string) => `${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;

/**
 * Called by a range item for an object over CopyObject's limit on a server-side pair: 'not-spread'
 * when it is small enough for one item (or the endpoint lacks UploadPartCopy: the caller copies it
 * as before), else the bytes of part 1, copied here, once the children are added.
 */
export async function startSpreadCopy(
  ictx: ItemContext<S3SyncSpec>,
  pairIndex: number,
  target: CopyTarget,
  obj: ListedObject,
  destKey: string,
): Promise<'not-spread' | { firstPartBytes: number; children: number }> {
  const { spec } = ictx;
  const limits = spec.s3Limits ?? AWS_S3_LIMITS;
  if (!target.serverSide || obj.size <= limits.copyObjectMaxBytes) return 'not-spread';
  const partBytes = partSizeFor(obj.size, spec.partSizeBytes, limits);
  const perItem = partsPerItemFor(partBytes, spec.partsPerItem);
  if (!spreads(partCount(obj.size, partBytes), perItem)) return 'not-spread';
  const ref = objectRef(ictx.run.runId, pairIndex, destKey);
  const batches = childBatches(obj.size, partBytes, perItem);
  const children = batches.map(
    (b): NewItem => ({
      itemId: partsItemId(pairIndex, destKey, b),
      kind: 's3-sync',
      group: groupOf(spec.pairs[pairIndex]!),
      spec: {
        type: 'parts',
        pair: pairIndex,
        key: obj.key,
        destKey,
        etag: normalizeEtag(obj.etag),
        size: obj.size,
        partBytes,
        first: b.first,
        last: b.last,
        perItem,
      } satisfies PartsItemSpec,
    }),
  );
  const firstPartBytes = partRange(1, partBytes, obj.size).end + 1;
  // a re-delivered range item: the upload is under way (or over); add the children again (by id:
  // nothing twice) and start nothing new
  const existing = await getPartCopy(ictx.ctx.meta, ref);
  if (existing) {
    if (existing.status === 'copying') await ictx.addChildren(children);
    return { firstPartBytes, children: children.length };
  }
  const send = { abortSignal: ictx.signal };
  const head = await target.src
    .send(new HeadObjectCommand({ Bucket: target.srcBucket, Key: obj.key, IfMatch: quoted(obj.etag) }), send)
    .catch((err) => {
      throw sourceError(err, obj.key);
    });
  // the destination's class, encryption, ACL and the source's tags (object-properties.ts): the
  // parts copy bytes only. radosgw 16 ignores tags on the create (docs/s3-properties.md).
  const tags =
    ictx.spec.tags === 'none'
      ? undefined
      : await target.srcObjects.getTagging(target.srcBucket, obj.key, ictx.signal).catch((err) => {
          throw sourceError(err, obj.key);
        });
  const properties = sdkPropertyFields(
    writePropertiesFor(ictx.spec, obj),
    tags?.length ? encodeTagging(tags) : undefined,
  );
  ictx.assertLease();
  const created = await target.dst.send(
    new CreateMultipartUploadCommand({
      ...properties,
      Bucket: target.dstBucket,
      Key: destKey,
      ContentType: head.ContentType,
      CacheControl: head.CacheControl,
      ContentDisposition: head.ContentDisposition,
      ContentEncoding: head.ContentEncoding,
      ContentLanguage: head.ContentLanguage,
      Metadata: { ...head.Metadata, [META_SOURCE_ETAG]: normalizeEtag(obj.etag) },
    }),
    send,
  );
  const uploadId = created.UploadId!;
  let part1: string;
  try {
    part1 = await copyPart(target.dst, target, { key: obj.key, etag: obj.etag, destKey, uploadId }, 1, {
      partBytes,
      size: obj.size,
      signal: ictx.signal,
    });
  } catch (err) {
    await abortUpload(target.dst, target.dstBucket, destKey, uploadId);
    if (unsupported(err)) return 'not-spread';
    throw sourceError(err, obj.key);
  }
  ictx.assertLease();
  const row = await createPartCopy(ictx.ctx.meta, ref, { uploadId, children: children.length, info: { part1 } });
  // lost a race with another delivery of this item: theirs is the upload
  if (!row.created) await abortUpload(target.dst, target.dstBucket, destKey, uploadId);
  await ictx.addChildren(children);
  return { firstPartBytes, children: children.length };
}

/** A child item: copy its parts, then complete the upload if it is the last to finish. */
export async function copyPartsItem(
  item: ItemRow,
  p: PartsItemSpec,
  ictx: ItemContext<S3SyncSpec>,
): Promise<ItemOutcome> {
  const pair = ictx.spec.pairs[p.pair]!;
  const target = copyTargetFor(ictx.ctx.config, pair);
  const ref = objectRef(ictx.run.runId, p.pair, p.destKey);
  const row = await getPartCopy(ictx.ctx.meta, ref);
  // the object failed (reported by the child that failed) or is complete: nothing left to do here
  if (!row)
    throw new ConvoyError(
      'PART_COPY_INCOMPLETE',
      `no part-copy row for ${p.destKey}: its range item did not record it`,
      {
        retryable: true,
      },
    );
  const myBytes = batchBytes(p, p.partBytes, p.size);
  // completed by this very item on an attempt whose lease then lapsed: count it as that one would have
  if (row.status === 'completed' && row.completer === item.itemId) return { bytes: myBytes, objects: 1 };
  if (row.status !== 'copying') return { bytes: 0, objects: 0 };
  const done: Record<string, string> = { ...((item.checkpoint as { parts?: Record<string, string> })?.parts ?? {}) };
  const up = { key: p.key, etag: p.etag, destKey: p.destKey, uploadId: row.uploadId };
  try {
    for (let n = p.first; n <= p.last; n++) {
      if (done[n]) continue;
      ictx.assertLease();
      done[n] = await ictx.transfers(() =>
        copyPart(target.dst, target, up, n, { partBytes: p.partBytes, size: p.size, signal: ictx.signal }),
      );
      await ictx.saveCheckpoint(
        { parts: done },
        { bytes: batchBytes({ first: p.first, last: n }, p.partBytes, p.size) },
      );
    }
    ictx.assertLease();
    await markChildCopied(ictx.ctx.meta, ref, item.itemId);
    const claim = await claimCompletion(ictx.ctx.meta, ref, item.itemId);
    if (claim !== 'claimed') return { bytes: myBytes, objects: 0 };
    await complete(ictx, target, p, ref, row, done, item.itemId);
    return { bytes: myBytes, objects: 1 };
  } catch (err) {
    if (ictx.signal.aborted) throw err;
    const e = err instanceof ConvoyError ? err : classifyError(sourceError(err, p.key));
    const after = await getPartCopy(ictx.ctx.meta, ref);
    // another child failed the object and aborted the upload under us: it reports the object
    if (after && after.status !== 'copying') return { bytes: 0, objects: 0 };
    const maxAttempts = (ictx.run.retry ?? DEFAULT_RETRY_POLICY).maxAttempts;
    const forGood = !e.retryable || item.attempts >= maxAttempts;
    // the item's error names the object, so `status --failed` and the report say which one failed
    const message = `copy by parts of ${p.destKey} (parts ${p.first}-${p.last} of this item): ${e.message}${forGood ? '; the upload was aborted' : ''}`;
    if (
      forGood &&
      (await failPartCopy(ictx.ctx.meta, ref, { errorClass: e.errorClass, message, child: item.itemId })) === 'ok'
    )
      await abortUpload(target.dst, pair.to.bucket, p.destKey, row.uploadId);
    throw new ConvoyError(e.errorClass, message, { retryable: e.retryable, cause: e, context: { key: p.key } });
  }
}

/** The completer: all parts in order, then the checks; the row says completed only once they pass. */
async function complete(
  ictx: ItemContext<S3SyncSpec>,
  target: CopyTarget,
  p: PartsItemSpec,
  ref: PartCopyRef,
  row: { uploadId: string; info?: Record<string, unknown> },
  mine: Record<string, string>,
  completer: string,
): Promise<void> {
  const etags: string[] = [String(row.info?.part1 ?? '')];
  for (const b of childBatches(p.size, p.partBytes, p.perItem)) {
    const parts =
      b.first === p.first
        ? mine
        : (
            (await getItem(ictx.ctx.items, ictx.run.runId, partsItemId(p.pair, p.destKey, b)))?.checkpoint as
              | { parts?: Record<string, string> }
              | undefined
          )?.parts;
    for (let n = b.first; n <= b.last; n++) {
      const e = parts?.[n];
      if (!e)
        throw new ConvoyError('PART_COPY_INCOMPLETE', `part ${n} of ${p.destKey} has no recorded ETag`, {
          retryable: true,
        });
      etags.push(e);
    }
  }
  ictx.assertLease();
  let etag: string | undefined;
  try {
    const out = await target.dst.send(
      new CompleteMultipartUploadCommand({
        Bucket: target.dstBucket,
        Key: p.destKey,
        UploadId: row.uploadId,
        MultipartUpload: { Parts: etags.map((ETag, i) => ({ PartNumber: i + 1, ETag })) },
      }),
      { abortSignal: ictx.signal },
    );
    etag = out.ETag;
  } catch (err) {
    // completed by this very item before it was killed: the object is there; the checks decide
    if ((err as { name?: string }).name !== 'NoSuchUpload') throw err;
  }
  const head = await target.dst.send(new HeadObjectCommand({ Bucket: target.dstBucket, Key: p.destKey }), {
    abortSignal: ictx.signal,
  });
  const expected = predictableEtags(etags) ? multipartEtag(etags) : undefined;
  // radosgw 16 answers CompleteMultipartUpload with an empty ETag: the HEAD's is the object's then
  const got = normalizeEtag(etag || head.ETag);
  if (head.ContentLength !== p.size)
    throw new ChecksumMismatchError(p.destKey, `${p.size} bytes`, `${head.ContentLength} bytes`);
  if (expected && got !== expected) throw new ChecksumMismatchError(p.destKey, expected, got);
  if (head.Metadata?.[META_SOURCE_ETAG] !== p.etag)
    throw new ChecksumMismatchError(p.destKey, `source ETag ${p.etag}`, String(head.Metadata?.[META_SOURCE_ETAG]));
  await completePartCopy(ictx.ctx.meta, ref, completer);
}

async function copyPart(
  client: S3Client,
  target: Pick<CopyTarget, 'srcBucket' | 'dstBucket'>,
  up: { key: string; etag: string; destKey: string; uploadId: string },
  n: number,
  o: { partBytes: number; size: number; signal?: AbortSignal },
): Promise<string> {
  const { start, end } = partRange(n, o.partBytes, o.size);
  const out = await client.send(
    new UploadPartCopyCommand({
      Bucket: target.dstBucket,
      Key: up.destKey,
      UploadId: up.uploadId,
      PartNumber: n,
      CopySource: copySourceOf(target.srcBucket, up.key),
      CopySourceRange: `bytes=${start}-${end}`,
      CopySourceIfMatch: quoted(up.etag),
    }),
    { abortSignal: o.signal },
  );
  const etag = out.CopyPartResult?.ETag;
  if (!etag)
    throw new ConvoyError('PART_COPY_INCOMPLETE', `UploadPartCopy of part ${n} of ${up.destKey} returned no ETag`, {
      retryable: true,
    });
  return normalizeEtag(etag);
}

async function abortUpload(client: S3Client, bucket: string, key: string, uploadId: string): Promise<void> {
  await client
    .send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }))
    .catch(() => undefined);
}
