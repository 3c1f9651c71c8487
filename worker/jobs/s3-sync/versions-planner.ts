/**
 * Planning an `--all-versions` run: the same range items as a latest-only run (planner.ts), cut
 * from ListObjectVersions instead of ListObjectsV2, so that a key whose newest version is a delete
 * marker (absent from ListObjectsV2) is planned too, and every version of a key falls in the one
 * range (startAfter, lastKey] that holds the key (a range's bounds are keys, never versions).
 *
 * listMode auto: the coordinator lists one level (Delimiter '/'); keys directly under the prefix
 * are cut into range items, each child prefix becomes a `list` item that a worker expands
 * (expandVersionsList, through the expansion latest-only runs use: list-expansion.ts).
 * listMode coordinator: the whole listing is streamed into range items.
 * A range's size counts every version's bytes; its key count counts keys.
 * --delete: as for latest-only runs, the last range of each listing is open-ended and a child
 * prefix only the destination has gets its own list item, so every destination key falls in one
 * range item (which puts a delete marker on it when the source never had it).
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type { ItemRow, NewItem } from '../../../state/item-row.js';
import type { ItemContext, ItemOutcome, PlanContext } from '../../job-kind.js';
import { s3For } from './endpoints.js';
import { buildKeyFilter } from './filters.js';
import { expandListItem } from './list-expansion.js';
import { childPrefixesOfEither, listItem, rangeItem, type S3SyncItemSpec } from './planner.js';
import { RangeCutter } from './ranges.js';
import type { S3SyncSpec } from './spec.js';
import { listKeyVersions, listVersionsLevel, type KeyVersions } from './versions-listing.js';

const bytesOf = (k: KeyVersions) => k.versions.reduce((n, v) => n + v.size, 0);

/** One side's child prefixes by ListObjectVersions: a prefix holding only delete markers counts. */
async function* childrenByVersions(s3: S3Client, bucket: string, prefix: string): AsyncGenerator<string> {
  for await (const e of listVersionsLevel(s3, { bucket, prefix, delimiter: '/' }))
    if ('childPrefix' in e) yield e.childPrefix;
}

export async function* planVersions(spec: S3SyncSpec, pctx: PlanContext): AsyncGenerator<NewItem> {
  const filter = buildKeyFilter(spec);
  for (const [i, pair] of spec.pairs.entries()) {
    const s3 = s3For(pctx.ctx.config, pair.from.remote);
    const rel = (key: string) => key.slice(pair.from.prefix.length);
    for (const prefix of spec.resolvedPrefixes?.[i] ?? [pair.from.prefix]) {
      const direct = spec.listMode !== 'coordinator';
      const cutter = new RangeCutter(prefix, spec.rangeMaxKeys, spec.rangeMaxBytes);
      for await (const e of listVersionsLevel(s3, {
        bucket: pair.from.bucket,
        prefix,
        delimiter: direct ? '/' : undefined,
      })) {
        if ('childPrefix' in e) {
          if (!spec.delete) yield listItem(spec, i, e.childPrefix);
          continue;
        }
        if (!filter(rel(e.key))) continue;
        const range = cutter.push(e.key, bytesOf(e));
        if (range) yield rangeItem(spec, i, range, direct);
      }
      const last = cutter.finish({ toEnd: spec.delete });
      if (last) yield rangeItem(spec, i, last, direct);
      if (spec.delete && direct)
        for await (const child of childPrefixesOfEither(pctx, pair, prefix, childrenByVersions))
          yield listItem(spec, i, child);
    }
  }
}

/** A `list` item of an --all-versions run: its prefix's keys (every version) cut into range items. */
export function expandVersionsList(
  item: ItemRow,
  itemSpec: Extract<S3SyncItemSpec, { type: 'list' }>,
  ictx: ItemContext<S3SyncSpec>,
): Promise<ItemOutcome> {
  const { spec } = ictx;
  const pair = spec.pairs[itemSpec.pair]!;
  const s3 = s3For(ictx.ctx.config, pair.from.remote);
  return expandListItem(item, ictx, {
    prefix: itemSpec.prefix,
    pairPrefix: pair.from.prefix,
    keys: async function* (startAfter) {
      for await (const k of listKeyVersions(s3, {
        bucket: pair.from.bucket,
        prefix: itemSpec.prefix,
        startAfter,
        signal: ictx.signal,
      }))
        yield { key: k.key, size: bytesOf(k) };
    },
    makeItem: (range) => rangeItem(spec, itemSpec.pair, range, false),
  });
}
