/**
 * Doing one s3-sync item in a worker.
 *
 * list item: stream the prefix's listing and add range items as children in batches, saving the
 *   last cut key as the item's checkpoint so a retried list item resumes instead of re-listing.
 * range item: merge-join the source and destination listings of the range, decide per object
 *   (copy / skip unchanged / look at metadata), and copy with the worker's shared transfer limit.
 *   An object deleted from the source after listing does not stop the others: the item copies
 *   everything else and then fails with SOURCE_OBJECT_MISSING naming the keys (a requeue re-lists
 *   the range and succeeds).
 *   With --delete, the destination keys of the range that the source lacks (and the filters
 *   admit) are deleted once every copy of the range has succeeded, never before and never after
 *   a failure (rclone sync's rule: an error stops deletions, a requeue redoes them).
 */
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { ConvoyError, NotFoundError, classifyError } from '../../../shared/errors.js';
import { InFlightWindow } from '../../../shared/in-flight-window.js';
import { isFirstClaim, type ItemRow } from '../../../state/item-row.js';
import { effectiveLimit } from '../../../state/run-tuning.js';
import type { ItemContext, ItemOutcome } from '../../job-kind.js';
import { adaptiveRatesFor } from '../../budget/adaptive-rates.js';
import { runBudget } from '../../budget/run-budget.js';
import { carriesListings, encodeCarriedListing, readCarriedListing } from './carried-listing.js';
import { copyObject } from './copier.js';
import { deleteKeys } from './deleter.js';
import { decide, decideByChecksums, decideWithMetadata, type ListedObject } from './decide.js';
import { copyTargetFor } from './endpoints.js';
import { buildKeyFilter } from './filters.js';
import { expandListItem } from './list-expansion.js';
import { listObjects, mergeJoin } from './listing.js';
import { copyPartsItem, startSpreadCopy } from './part-copy-items.js';
import { rangeItem, type S3SyncItemSpec } from './planner.js';
import { destKeyFor, rateDestinationOf, type S3SyncSpec } from './spec.js';
import { handleVersionsItem } from './versions-handler.js';

/** destination keys to delete held while the copies run; past this a second listing finds them */
const HELD_DELETIONS = 10_000;

export async function handleS3SyncItem(item: ItemRow, ictx: ItemContext<S3SyncSpec>): Promise<ItemOutcome> {
  if (ictx.spec.allVersions) return handleVersionsItem(item, ictx);
  const itemSpec = item.spec as S3SyncItemSpec;
  if (itemSpec.type === 'list') return expandList(item, itemSpec, ictx);
  if (itemSpec.type === 'parts') return copyPartsItem(item, itemSpec, ictx);
  return syncRange(itemSpec, ictx, isFirstClaim(item));
}

function expandList(
  item: ItemRow,
  itemSpec: Extract<S3SyncItemSpec, { type: 'list' }>,
  ictx: ItemContext<S3SyncSpec>,
): Promise<ItemOutcome> {
  const { spec } = ictx;
  const pair = spec.pairs[itemSpec.pair]!;
  const target = copyTargetFor(ictx.ctx.config, pair);
  return expandListItem(item, ictx, {
    prefix: itemSpec.prefix,
    startAfter: itemSpec.startAfter,
    pairPrefix: pair.from.prefix,
    keys: (startAfter) =>
      listObjects(target.srcObjects, {
        bucket: pair.from.bucket,
        prefix: itemSpec.prefix,
        startAfter,
        signal: ictx.signal,
      }),
    carry: carriesListings(spec) ? encodeCarriedListing : undefined,
    makeItem: (range, hint) => rangeItem(spec, itemSpec.pair, range, false, itemSpec.destEmpty === true, hint),
  });
}

async function syncRange(
  r: Extract<S3SyncItemSpec, { type: 'range' }>,
  ictx: ItemContext<S3SyncSpec>,
  firstClaim: boolean,
): Promise<ItemOutcome> {
  const { spec } = ictx;
  const pairIndex = r.pair;
  const pair = spec.pairs[r.pair]!;
  const target = copyTargetFor(ictx.ctx.config, pair);
  const filter = buildKeyFilter(spec);
  const delimiter = r.direct ? '/' : undefined;
  // the range's own key count (+1 to see past its end) as the page size; the destination may hold
  // extra keys in the range, so its listing simply pages on until it passes lastKey (an open-ended
  // range pages on to the end of the prefix: full pages)
  const maxKeys = r.keys > 0 && !r.toEnd ? r.keys + 1 : undefined;
  // A destination empty when the run was planned holds nothing of this range before the range's
  // first attempt writes (its keys are this item's alone): that attempt copies without listing it.
  // Any later claim (a retry, a takeover, after a release at shutdown or a requeue) lists it, to
  // skip what an earlier one copied.
  const destUnlisted = r.destEmpty === true && firstClaim;
  // The source listing the range was cut from, carried in its message: on the first claim it
  // stands in for listing the source again (carried-listing.ts)
  const carried =
    firstClaim && ictx.hint && carriesListings(spec) ? readCarriedListing(ictx.hint, r, ictx.ctx.now()) : undefined;
  // an open-ended range (the last of its prefix under --delete) lists both sides to the end
  const listings = () => ({
    src: carried
      ? fromList(carried)
      : listObjects(target.srcObjects, {
          bucket: pair.from.bucket,
          prefix: r.prefix,
          startAfter: r.startAfter,
          lastKey: r.toEnd ? undefined : r.lastKey,
          delimiter,
          maxKeys,
          signal: ictx.signal,
        }),
    dst: destUnlisted
      ? nothingListed()
      : listObjects(target.dstObjects, {
          bucket: pair.to.bucket,
          prefix: destKeyFor(pair, r.prefix),
          startAfter: r.startAfter ? destKeyFor(pair, r.startAfter) : undefined,
          lastKey: r.toEnd ? undefined : destKeyFor(pair, r.lastKey),
          delimiter,
          maxKeys,
          signal: ictx.signal,
        }),
  });
  const { src, dst } = listings();
  const toDelete: string[] = [];
  let tooManyToHold = false;

  // the run's fleet-wide limits, this process's share (shared by all its items of the run), looked
  // up for each object and every second while the range is copied (objects already waiting for the
  // budget take a tuned rate at once: `convoy tune --tpslimit/--bwlimit`)
  const budgets = async () => {
    const tuning = (await ictx.currentRun()).tuning;
    return {
      bytes: await runBudget(
        ictx.ctx,
        ictx.run.runId,
        effectiveLimit(tuning?.bwlimit, spec.bwlimitBytesPerSecond),
        'bytes',
      ),
      objects: await runBudget(ictx.ctx, ictx.run.runId, effectiveLimit(tuning?.tpslimit, spec.tpsLimit), 'objects'),
    };
  };
  const rates = spec.rateControl === 'adaptive' ? adaptiveRatesFor(ictx.ctx, ictx.run.runId) : undefined;
  const outcome = { bytes: 0, objects: 0, skipped: 0, skippedBytes: 0, bytesThroughWorker: 0, partItems: 0 };
  const missing: string[] = [];
  let firstError: ConvoyError | undefined;
  // Bounded look-ahead: the listing never runs far ahead of the copies.
  const inFlight = new InFlightWindow(256);
  const copyOpts = {
    multipartThresholdBytes: spec.multipartThresholdBytes,
    partSizeBytes: spec.partSizeBytes,
    limits: spec.s3Limits,
    properties: spec,
    signal: ictx.signal,
  };

  const work = async (o: ListedObject, dstObj: ListedObject | undefined) => {
    const destKey = destKeyFor(pair, o.key);
    let d = decide(o, dstObj, { sizeOnly: spec.sizeOnly, destEtagsOpaque: spec.sse === 'aws:kms' });
    if (d.action === 'head') {
      // ChecksumMode: S3's additional checksums, where both sides have them, decide without a body
      const [sh, dh] = await Promise.all([
        target.src
          .send(new HeadObjectCommand({ Bucket: pair.from.bucket, Key: o.key, ChecksumMode: 'ENABLED' }), {
            abortSignal: ictx.signal,
          })
          .catch(() => undefined),
        target.dst.send(new HeadObjectCommand({ Bucket: pair.to.bucket, Key: destKey, ChecksumMode: 'ENABLED' }), {
          abortSignal: ictx.signal,
        }),
      ]);
      d = decideByChecksums(o, sh, dh) ?? decideWithMetadata(o, sh?.Metadata, dh.Metadata);
    }
    if (d.action === 'skip') {
      outcome.skipped++;
      outcome.skippedBytes += o.size; // so copied + skipped account for the source, after a crash too
      return;
    }
    const budget = await budgets();
    await budget.objects?.acquire(1, ictx.signal);
    await budget.bytes?.acquire(o.size, ictx.signal);
    const dest = rates && rateDestinationOf(pair, destKey);
    if (dest) await rates?.acquire(dest, 1, ictx.signal);
    ictx.assertLease();
    // a large object copied by parts across the fleet: its child items copy and count it
    const spread = await startSpreadCopy(ictx, pairIndex, target, o, destKey);
    if (spread !== 'not-spread') {
      outcome.bytes += spread.firstPartBytes;
      outcome.partItems += spread.children;
      return;
    }
    const r = await copyObject(
      target,
      o,
      destKey,
      dest && rates ? { ...copyOpts, onThrottle: () => rates.beforeRetry(dest, ictx.signal) } : copyOpts,
    );
    outcome.objects++;
    outcome.bytes += o.size;
    outcome.bytesThroughWorker += r.bytesThroughWorker;
  };

  const following = setInterval(() => void budgets().catch(() => undefined), 1_000);
  following.unref();
  try {
    await copyRange();
  } finally {
    clearInterval(following);
  }
  async function copyRange() {
    for await (const entry of mergeJoin(src, pair.from.prefix, dst, pair.to.prefix)) {
      if (!filter(entry.rel)) continue;
      if (!entry.src) {
        if (spec.delete && !tooManyToHold) {
          if (toDelete.length < HELD_DELETIONS) toDelete.push(entry.dst!.key);
          else tooManyToHold = true;
        }
        continue;
      }
      if (firstError && !firstError.retryable) break;
      inFlight.add(
        ictx
          .transfers(() => work(entry.src!, entry.dst))
          .catch((err: unknown) => {
            const e = classifyError(err);
            if (e.errorClass === 'SOURCE_OBJECT_MISSING') missing.push(entry.src!.key);
            else firstError ??= e;
          }),
      );
      await inFlight.room();
    }
    await inFlight.drained();
  }
  if (firstError) throw firstError;
  if (missing.length && carried) {
    // the carried listing was older than a listing now would be: the retry lists the range
    throw new ConvoyError(
      'SOURCE_CHANGED',
      `${missing.length} source object(s) were deleted since the range was listed: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', ...' : ''}; the range is listed again and retried`,
      { retryable: true, context: { keys: missing.slice(0, 100) } },
    );
  }
  if (missing.length) {
    throw new NotFoundError(
      'SOURCE_OBJECT_MISSING',
      `${missing.length} source object(s) were deleted after listing: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', ...' : ''}; the other objects of the range were copied`,
      { context: { keys: missing.slice(0, 100) } },
    );
  }
  if (spec.delete) {
    // every copy of the range succeeded: now the destination keys the source lacks can go
    const keys = tooManyToHold ? extraKeys(listings(), pair.from.prefix, pair.to.prefix, filter) : toDelete;
    return {
      ...outcome,
      deleted: await deleteKeys(target.dst, pair.to.bucket, keys, {
        signal: ictx.signal,
        assertLease: () => ictx.assertLease(),
      }),
    };
  }
  return outcome;
}

async function* nothingListed(): AsyncGenerator<ListedObject> {}

async function* fromList(objects: readonly ListedObject[]): AsyncGenerator<ListedObject> {
  yield* objects;
}

/** The destination keys the source lacks, from a fresh merge-join of the range's listings. */
async function* extraKeys(
  l: { src: AsyncIterable<ListedObject>; dst: AsyncIterable<ListedObject> },
  srcPrefix: string,
  dstPrefix: string,
  filter: (rel: string) => boolean,
): AsyncGenerator<string> {
  for await (const e of mergeJoin(l.src, srcPrefix, l.dst, dstPrefix)) if (!e.src && filter(e.rel)) yield e.dst!.key;
}
