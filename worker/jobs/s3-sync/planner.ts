/**
 * S3SyncPlanner: turns bucket pairs into items without holding a listing.
 *
 * listMode auto (default): the coordinator lists one level of each synced prefix; objects directly
 * under it are cut into `range` items (listed with Delimiter '/', so a range never spans a child
 * prefix), and each child prefix becomes a `list` item that a worker expands into range items
 * (no planning bottleneck: a 100M-key bucket is listed by the fleet, in parallel, not by one process).
 * listMode coordinator: the coordinator streams the whole listing into range items.
 * --delete: the last range of each listing is open-ended (ranges.ts `toEnd`), and in auto mode a
 * child prefix only the destination has gets a `list` item too, so every destination key in the
 * synced prefixes falls in exactly one range item, which deletes it if the source lacks it.
 */
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { NewItem } from '../../../state/item-row.js';
import type { PlanContext } from '../../job-kind.js';
import { s3For } from './endpoints.js';
import type { PartsItemSpec } from './part-copy-items.js';
import { buildKeyFilter } from './filters.js';
import { listLevel, listObjects, mergeJoin } from './listing.js';
import { RangeCutter, listItemId, rangeItemId, type KeyRange } from './ranges.js';
import { destKeyFor, groupOf, type BucketPair, type S3SyncSpec } from './spec.js';

/**
 * `destEmpty`: the destination held no object under the pair's prefix when the run was planned
 * (destHoldsNothing), so a range's first attempt copies without listing it (handler.ts). Carried
 * by the items, not the run's spec: a fact of the plan, which a second `plan` of the same run
 * must not see as a different spec.
 */
export type S3SyncItemSpec =
  | { type: 'list'; pair: number; prefix: string; destEmpty?: true }
  | ({ type: 'range'; pair: number; direct: boolean; destEmpty?: true } & KeyRange)
  | PartsItemSpec;

export function rangeItem(
  spec: S3SyncSpec,
  pairIndex: number,
  range: KeyRange,
  direct: boolean,
  destEmpty = false,
): NewItem {
  return {
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

/** The `list` item of one child prefix: a worker expands it into range items. */
export function listItem(spec: S3SyncSpec, pairIndex: number, childPrefix: string, destEmpty = false): NewItem {
  return {
    itemId: listItemId(pairIndex, childPrefix),
    kind: 's3-sync',
    group: groupOf(spec.pairs[pairIndex]!),
    spec: {
      type: 'list',
      pair: pairIndex,
      prefix: childPrefix,
      ...(destEmpty ? { destEmpty: true as const } : {}),
    } satisfies S3SyncItemSpec,
  };
}

/**
 * Whether the destination holds no object under the pair's prefix: one LIST of one key. A
 * migration into a fresh bucket or prefix then copies each range without listing the destination
 * first (half the run's LIST requests); a range's retry lists it, to skip what was copied.
 */
async function destHoldsNothing(pctx: PlanContext, pair: BucketPair): Promise<boolean> {
  try {
    const out = await s3For(pctx.ctx.config, pair.to.remote).send(
      new ListObjectsV2Command({ Bucket: pair.to.bucket, Prefix: pair.to.prefix, MaxKeys: 1 }),
    );
    return (out.KeyCount ?? out.Contents?.length ?? 0) === 0;
  } catch {
    return false; // cannot tell: every range lists the destination, as it always may
  }
}

export async function* planS3Sync(spec: S3SyncSpec, pctx: PlanContext): AsyncGenerator<NewItem> {
  const filter = buildKeyFilter(spec);
  const toEnd = spec.delete;
  for (const [i, pair] of spec.pairs.entries()) {
    const s3 = s3For(pctx.ctx.config, pair.from.remote);
    const prefixes = spec.resolvedPrefixes?.[i] ?? [pair.from.prefix];
    const destEmpty = await destHoldsNothing(pctx, pair);
    for (const prefix of prefixes) {
      const rel = (key: string) => key.slice(pair.from.prefix.length);
      if (spec.listMode === 'coordinator') {
        const cutter = new RangeCutter(prefix, spec.rangeMaxKeys, spec.rangeMaxBytes);
        for await (const o of listObjects(s3, { bucket: pair.from.bucket, prefix })) {
          if (!filter(rel(o.key))) continue;
          const range = cutter.push(o.key, o.size);
          if (range) yield rangeItem(spec, i, range, false, destEmpty);
        }
        const last = cutter.finish({ toEnd });
        if (last) yield rangeItem(spec, i, last, false, destEmpty);
        continue;
      }
      const cutter = new RangeCutter(prefix, spec.rangeMaxKeys, spec.rangeMaxBytes);
      for await (const entry of listLevel(s3, pair.from.bucket, prefix)) {
        if ('childPrefix' in entry) {
          if (!spec.delete) yield listItem(spec, i, entry.childPrefix, destEmpty);
          continue;
        }
        if (!filter(rel(entry.object.key))) continue;
        const range = cutter.push(entry.object.key, entry.object.size);
        if (range) yield rangeItem(spec, i, range, true, destEmpty);
      }
      const last = cutter.finish({ toEnd });
      if (last) yield rangeItem(spec, i, last, true, destEmpty);
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
