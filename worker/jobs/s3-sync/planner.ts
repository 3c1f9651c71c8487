/**
 * S3SyncPlanner: turns bucket pairs into items without holding a listing.
 *
 * listMode fleet: the coordinator lists one level of each synced prefix; objects directly under it
 * are cut into `range` items (listed with Delimiter '/', so a range never spans a child prefix),
 * and each child prefix becomes a `list` item that a worker expands into range items (no planning
 * bottleneck: a 100M-key bucket is listed by the fleet, in parallel, not by one process).
 * listMode auto (default): as fleet, but the coordinator first lists child prefixes itself, up to
 * INLINE_LIST_PAGES pages in all, and cuts their ranges: a small sync is planned as ranges at once,
 * with no list item to claim and expand before the first copy, and a large one's first pages are
 * copied while list items spread the rest (a child cut off mid-listing goes to the fleet as a list
 * item that starts after its last range).
 * listMode coordinator: the coordinator streams the whole listing into range items.
 * --delete: the last range of each listing is open-ended (ranges.ts `toEnd`), and every child
 * prefix is a `list` item (auto lists none itself), one only the destination has too, so every
 * destination key in the synced prefixes falls in exactly one range item, which deletes it if the
 * source lacks it.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type { NewItem } from '../../../state/item-row.js';
import type { PlanContext } from '../../job-kind.js';
import { objectsFor, s3For } from './endpoints.js';
import type { PartsItemSpec } from './part-copy-items.js';
import { CarryingCutter, carriesListings, encodeCarriedListing } from './carried-listing.js';
import type { ListedObject } from './decide.js';
import { buildKeyFilter } from './filters.js';
import { listLevel, listObjects, mergeJoin, type PageBudget } from './listing.js';
import { RangeCutter, listItemId, rangeItemId, type KeyRange } from './ranges.js';
import { destKeyFor, groupOf, type BucketPair, type S3SyncSpec } from './spec.js';

/**
 * `destEmpty`: the destination held no object under the pair's prefix when the run was planned
 * (destHoldsNothing), so a range's first attempt copies without listing it (handler.ts). Carried
 * by the items, not the run's spec: a fact of the plan, which a second `plan` of the same run
 * must not see as a different spec.
 */
export type S3SyncItemSpec =
  | { type: 'list'; pair: number; prefix: string; destEmpty?: true; startAfter?: string }
  | ({ type: 'range'; pair: number; direct: boolean; destEmpty?: true } & KeyRange)
  | PartsItemSpec;

/** `hint`: the range's listing, carried to its handler in its message (carried-listing.ts) */
export function rangeItem(
  spec: S3SyncSpec,
  pairIndex: number,
  range: KeyRange,
  direct: boolean,
  destEmpty = false,
  hint?: string,
): NewItem {
  return {
    ...(hint ? { hint } : {}),
    itemId: rangeItemId(pairIndex, range) + (direct ? ':direct' : ''),
    kind: 's3-sync',
    group: groupOf(spec.pairs[pairIndex]!),
    spec: {
      type: 'range',
      pair: pairIndex,
      direct,
      ...(destEmpty ? { destEmpty: true as const } : {}),
      ...range,
    } satisfies S3SyncItemSpec,
  };
}

/**
 * The `list` item of one child prefix: a worker expands it into range items, from the start of the
 * prefix or after `startAfter` (the last key of the ranges the coordinator cut itself).
 */
export function listItem(
  spec: S3SyncSpec,
  pairIndex: number,
  childPrefix: string,
  destEmpty = false,
  startAfter = '',
): NewItem {
  return {
    itemId: listItemId(pairIndex, childPrefix),
    kind: 's3-sync',
    group: groupOf(spec.pairs[pairIndex]!),
    spec: {
      type: 'list',
      pair: pairIndex,
      prefix: childPrefix,
      ...(destEmpty ? { destEmpty: true as const } : {}),
      ...(startAfter ? { startAfter } : {}),
    } satisfies S3SyncItemSpec,
  };
}

/**
 * Requests (pages of up to 1,000 keys) the coordinator spends listing child prefixes in listMode
 * auto, over the whole plan. Measured in bench:s3 (a) (5,000 keys under one prefix): with every
 * child a list item, its claim, listing and child writes came before any copy (~0.4 s).
 */
export const INLINE_LIST_PAGES = 10;

/**
 * A child prefix listed by the coordinator: its ranges, until the plan's pages run out; then the
 * rest of it as a list item that starts after the last range cut here.
 */
async function* childListedHere(
  spec: S3SyncSpec,
  pctx: PlanContext,
  pairIndex: number,
  childPrefix: string,
  destEmpty: boolean,
  pages: PageBudget,
): AsyncGenerator<NewItem> {
  const pair = spec.pairs[pairIndex]!;
  const filter = buildKeyFilter(spec);
  const cutter = carryingCutter(spec, childPrefix);
  let lastCut = '';
  for await (const o of listObjects(objectsFor(pctx.ctx.config, pair.from.remote), {
    bucket: pair.from.bucket,
    prefix: childPrefix,
    pages,
  })) {
    if (!filter(o.key.slice(pair.from.prefix.length))) continue;
    const cut = cutter.push(o);
    if (cut) {
      lastCut = cut.range.lastKey;
      yield rangeItem(spec, pairIndex, cut.range, false, destEmpty, cut.hint);
    }
  }
  if (pages.cutOff) {
    // the keys listed after lastCut are listed again by the list item
    yield listItem(spec, pairIndex, childPrefix, destEmpty, lastCut);
    return;
  }
  const last = cutter.finish();
  if (last) yield rangeItem(spec, pairIndex, last.range, false, destEmpty, last.hint);
}

/** Cuts a prefix's listing into ranges that carry their listing where the run's do (carried-listing.ts). */
function carryingCutter(spec: S3SyncSpec, prefix: string): CarryingCutter<ListedObject> {
  return new CarryingCutter(
    new RangeCutter(prefix, spec.rangeMaxKeys, spec.rangeMaxBytes),
    carriesListings(spec) ? encodeCarriedListing : undefined,
  );
}

/**
 * Whether the destination holds no object under the pair's prefix: one LIST of one key. A
 * migration into a fresh bucket or prefix then copies each range without listing the destination
 * first (half the run's LIST requests); a range's retry lists it, to skip what was copied.
 */
async function destHoldsNothing(pctx: PlanContext, pair: BucketPair): Promise<boolean> {
  try {
    const page = await objectsFor(pctx.ctx.config, pair.to.remote).listPage(pair.to.bucket, {
      prefix: pair.to.prefix || undefined,
      maxKeys: 1,
    });
    return page.contents.length === 0;
  } catch {
    return false; // cannot tell: every range lists the destination, as it always may
  }
}

export async function* planS3Sync(spec: S3SyncSpec, pctx: PlanContext): AsyncGenerator<NewItem> {
  const filter = buildKeyFilter(spec);
  const toEnd = spec.delete;
  const inline: PageBudget = { left: spec.listMode === 'auto' && !spec.delete ? INLINE_LIST_PAGES : 0 };
  for (const [i, pair] of spec.pairs.entries()) {
    // the lean client: no SDK XML parse per page (listing.ts)
    const s3 = objectsFor(pctx.ctx.config, pair.from.remote);
    const prefixes = spec.resolvedPrefixes?.[i] ?? [pair.from.prefix];
    const destEmpty = await destHoldsNothing(pctx, pair);
    for (const prefix of prefixes) {
      const rel = (key: string) => key.slice(pair.from.prefix.length);
      if (spec.listMode === 'coordinator') {
        const cutter = carryingCutter(spec, prefix);
        for await (const o of listObjects(s3, { bucket: pair.from.bucket, prefix })) {
          if (!filter(rel(o.key))) continue;
          const cut = cutter.push(o);
          if (cut) yield rangeItem(spec, i, cut.range, false, destEmpty, cut.hint);
        }
        const last = cutter.finish({ toEnd });
        if (last) yield rangeItem(spec, i, last.range, false, destEmpty, last.hint);
        continue;
      }
      const cutter = carryingCutter(spec, prefix);
      for await (const entry of listLevel(s3, pair.from.bucket, prefix)) {
        if ('childPrefix' in entry) {
          // under --delete, the children of either side get list items, below
          if (spec.delete) continue;
          if (inline.left > 0) yield* childListedHere(spec, pctx, i, entry.childPrefix, destEmpty, inline);
          else yield listItem(spec, i, entry.childPrefix, destEmpty);
          continue;
        }
        if (!filter(rel(entry.object.key))) continue;
        const cut = cutter.push(entry.object);
        if (cut) yield rangeItem(spec, i, cut.range, true, destEmpty, cut.hint);
      }
      const last = cutter.finish({ toEnd });
      if (last) yield rangeItem(spec, i, last.range, true, destEmpty, last.hint);
      if (spec.delete)
        for await (const child of childPrefixesOfEither(pctx, pair, prefix, childrenByListObjects))
          yield listItem(spec, i, child, destEmpty);
    }
  }
}

/** One side's child prefixes of a prefix, in key order. */
export type ChildLister = (s3: S3Client, bucket: string, prefix: string) => AsyncIterable<string>;

async function* childrenByListObjects(s3: S3Client, bucket: string, prefix: string): AsyncGenerator<string> {
  for await (const e of listLevel(s3, bucket, prefix)) if ('childPrefix' in e) yield e.childPrefix;
}

/**
 * The child prefixes of either side (in source terms), once each: a prefix the source no longer
 * has (a vacuumed partition) still needs its list item so its destination keys get deleted. Both
 * listings are sorted, so a merge-join keeps memory flat. `children` lists one side's level
 * (ListObjectsV2 here, ListObjectVersions for --all-versions).
 */
export async function* childPrefixesOfEither(
  pctx: PlanContext,
  pair: BucketPair,
  prefix: string,
  children: ChildLister,
): AsyncGenerator<string> {
  const side = async function* (which: 'from' | 'to', p: string) {
    for await (const key of children(s3For(pctx.ctx.config, pair[which].remote), pair[which].bucket, p))
      yield { key, size: 0, etag: '', lastModifiedMs: 0 };
  };
  for await (const e of mergeJoin(
    side('from', prefix),
    pair.from.prefix,
    side('to', destKeyFor(pair, prefix)),
    pair.to.prefix,
  )) {
    yield pair.from.prefix + e.rel;
  }
}
