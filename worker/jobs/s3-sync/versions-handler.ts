/**
 * Doing one item of an `--all-versions` run in a worker: a `list` item is expanded into range
 * items (versions-planner.ts); a range item joins the source's and the destination's versions of
 * its keys and brings each key's missing versions across, oldest first (versions-copier.ts).
 * Keys are copied in parallel (the worker's transfer limit); one key's versions one after another.
 * An error on one key stops that key (its later versions must not overtake it) but not the
 * others; the item then fails with the first error, and a retry resumes each key after what it
 * finds already copied.
 * With --delete, a destination key the source never had gets a delete marker (versions-decide.ts),
 * once every key of the range has succeeded (as latest-only runs delete: handler.ts). The range
 * holds such keys while its copies run, up to as many as it has keys to copy (--range-keys): an
 * item's memory is bounded by the one knob that sizes it. Past that (a destination with far more
 * keys than the source, or the open-ended last range) a second listing of the range finds them.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { type ConvoyError, NotFoundError, classifyError } from '../../../shared/errors.js';
import { InFlightWindow } from '../../../shared/in-flight-window.js';
import type { ItemRow } from '../../../state/item-row.js';
import { effectiveLimit } from '../../../state/run-tuning.js';
import type { ItemContext, ItemOutcome } from '../../job-kind.js';
import { adaptiveRatesFor } from '../../budget/adaptive-rates.js';
import { runBudget } from '../../budget/run-budget.js';
import { deleteKeys } from './deleter.js';
import { copyTargetFor } from './endpoints.js';
import { buildKeyFilter } from './filters.js';
import type { S3SyncItemSpec } from './planner.js';
import { type BucketPair, destKeyFor, rateDestinationOf, type S3SyncSpec } from './spec.js';
import { syncKeyVersions } from './versions-copier.js';
import { decideKeyVersions } from './versions-decide.js';
import { joinVersions, listKeyVersions, type KeyVersions } from './versions-listing.js';
import { expandVersionsList } from './versions-planner.js';

export async function handleVersionsItem(item: ItemRow, ictx: ItemContext<S3SyncSpec>): Promise<ItemOutcome> {
  const itemSpec = item.spec as S3SyncItemSpec;
  if (itemSpec.type === 'list') return expandVersionsList(item, itemSpec, ictx);
  // versions are copied whole or streamed (README): such a run never adds part-copy items
  if (itemSpec.type === 'parts') throw new Error(`item ${item.itemId}: an --all-versions run has no part-copy items`);
  const { spec } = ictx;
  const r = itemSpec;
  const pair = spec.pairs[r.pair]!;
  const t = copyTargetFor(ictx.ctx.config, pair);
  const filter = buildKeyFilter(spec);
  const delimiter = r.direct ? '/' : undefined;
  // an open-ended range (the last of its prefix under --delete) lists both sides to the end
  const listings = () => ({
    src: listKeyVersions(t.src, {
      bucket: pair.from.bucket,
      prefix: r.prefix,
      startAfter: r.startAfter,
      lastKey: r.toEnd ? undefined : r.lastKey,
      delimiter,
      signal: ictx.signal,
    }),
    dst: listKeyVersions(t.dst, {
      bucket: pair.to.bucket,
      prefix: destKeyFor(pair, r.prefix),
      startAfter: r.startAfter ? destKeyFor(pair, r.startAfter) : undefined,
      lastKey: r.toEnd ? undefined : destKeyFor(pair, r.lastKey),
      delimiter,
      signal: ictx.signal,
    }),
  });
  const { src, dst } = listings();
  const tuning = (await ictx.currentRun()).tuning;
  const objectsBudget = await runBudget(
    ictx.ctx,
    ictx.run.runId,
    effectiveLimit(tuning?.tpslimit, spec.tpsLimit),
    'objects',
  );
  const bytesBudget = await runBudget(
    ictx.ctx,
    ictx.run.runId,
    effectiveLimit(tuning?.bwlimit, spec.bwlimitBytesPerSecond),
    'bytes',
  );
  // adaptive rate control per destination bucket and prefix, as for the latest versions (handler.ts)
  const rates = spec.rateControl === 'adaptive' ? adaptiveRatesFor(ictx.ctx, ictx.run.runId) : undefined;
  const outcome = {
    bytes: 0,
    objects: 0,
    skipped: 0,
    skippedBytes: 0,
    bytesThroughWorker: 0,
    deleteMarkers: 0,
    keys: 0,
  };
  const missing: string[] = [];
  let firstError: ConvoyError | undefined;
  // bounded look-ahead, as for a range of latest versions (handler.ts)
  const inFlight = new InFlightWindow(256);
  const toMark: string[] = [];
  let tooManyToHold = false;
  for await (const e of joinVersions(src, pair.from.prefix, dst, pair.to.prefix)) {
    if (!filter(e.rel)) continue;
    if (!e.src) {
      // a destination key the source never had: the same rule as a dry run (versions-decide.ts)
      const d = await decideKeyVersions({ s3: t.dst, bucket: pair.to.bucket }, undefined, e.dst, e.dst!.key, {
        deleteMarkers: spec.delete,
        signal: ictx.signal,
      });
      if (d.markExtra && !tooManyToHold) {
        if (toMark.length < spec.rangeMaxKeys) toMark.push(e.dst!.key);
        else tooManyToHold = true;
      }
      continue;
    }
    if (firstError && !firstError.retryable) break;
    const key = e.src;
    const dest = rates && rateDestinationOf(pair, destKeyFor(pair, key.key));
    const p = ictx
      .transfers(async () => {
        const res = await syncKeyVersions(t, key, e.dst, destKeyFor(pair, key.key), {
          multipartThresholdBytes: spec.multipartThresholdBytes,
          partSizeBytes: spec.partSizeBytes,
          limits: spec.s3Limits,
          deleteMarkers: spec.delete,
          signal: ictx.signal,
          assertLease: () => ictx.assertLease(),
          beforeCopy: async (v) => {
            await objectsBudget?.acquire(1, ictx.signal);
            await bytesBudget?.acquire(v.size, ictx.signal);
            if (dest) await rates?.acquire(dest, 1, ictx.signal);
          },
          onThrottle: dest && rates ? () => rates.beforeRetry(dest, ictx.signal) : undefined,
        });
        outcome.keys++;
        outcome.objects += res.copied;
        outcome.bytes += res.bytes;
        outcome.bytesThroughWorker += res.bytesThroughWorker;
        outcome.deleteMarkers += res.markers;
        outcome.skipped += res.skipped;
        outcome.skippedBytes += res.skippedBytes;
      })
      .catch((err: unknown) => {
        const c = classifyError(err);
        if (c.errorClass === 'SOURCE_OBJECT_MISSING') missing.push(key.key);
        else firstError ??= c;
      });
    inFlight.add(p);
    await inFlight.room();
  }
  await inFlight.drained();
  if (firstError) throw firstError;
  if (missing.length)
    throw new NotFoundError(
      'SOURCE_OBJECT_MISSING',
      `versions of ${missing.length} key(s) were deleted from the source after listing: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', ...' : ''}; the other keys of the range were copied`,
      { context: { keys: missing.slice(0, 100) } },
    );
  if (!toMark.length) return outcome;
  // every key of the range copied: now a delete marker on each destination key the source lacks
  // (DeleteObjects without VersionIds; on a versioned bucket that writes markers, deletes nothing)
  const keys = tooManyToHold ? keysToMark(listings(), pair, filter, spec.delete, t.dst, ictx.signal) : toMark;
  const deleted = await deleteKeys(t.dst, pair.to.bucket, keys, {
    signal: ictx.signal,
    assertLease: () => ictx.assertLease(),
  });
  return { ...outcome, deleted };
}

/** The destination keys that get a delete marker, from a fresh join of the range's listings. */
async function* keysToMark(
  l: { src: AsyncIterable<KeyVersions>; dst: AsyncIterable<KeyVersions> },
  pair: BucketPair,
  filter: (rel: string) => boolean,
  deleteMarkers: boolean,
  s3: S3Client,
  signal: AbortSignal,
): AsyncGenerator<string> {
  for await (const e of joinVersions(l.src, pair.from.prefix, l.dst, pair.to.prefix)) {
    if (e.src || !filter(e.rel)) continue;
    const d = await decideKeyVersions({ s3, bucket: pair.to.bucket }, undefined, e.dst, e.dst!.key, {
      deleteMarkers,
      signal,
    });
    if (d.markExtra) yield e.dst!.key;
  }
}
