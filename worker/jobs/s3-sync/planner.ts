/**
 * S3SyncPlanner: turns bucket pairs into items without holding a listing.
 *
 * listMode auto (default): the coordinator lists one level of each synced prefix; objects directly
 * under it are cut into `range` items (listed with Delimiter '/', so a range never spans a child
 * prefix), and each child prefix becomes a `list` item that a worker expands into range items
 * (invariant 5: a 100M-key bucket is listed by the fleet, in parallel, not by one process).
 * listMode coordinator: the coordinator streams the whole listing into range items.
 */
import type { NewItem } from '../../../state/items.js';
import type { PlanContext } from '../types.js';
import { s3For } from './endpoints.js';
import { buildKeyFilter } from './filters.js';
import { listLevel, listObjects } from './listing.js';
import { RangeCutter, listItemId, rangeItemId, type KeyRange } from './ranges.js';
import { groupOf, type S3SyncSpec } from './spec.js';

export type S3SyncItemSpec =
  | { type: 'list'; pair: number; prefix: string }
  | ({ type: 'range'; pair: number; direct: boolean } & KeyRange);

export function rangeItem(spec: S3SyncSpec, pairIndex: number, range: KeyRange, direct: boolean): NewItem {
  return {
    itemId: rangeItemId(pairIndex, range) + (direct ? ':direct' : ''),
    kind: 's3-sync',
    group: groupOf(spec.pairs[pairIndex]!),
    spec: { type: 'range', pair: pairIndex, direct, ...range } satisfies S3SyncItemSpec,
  };
}

export async function* planS3Sync(spec: S3SyncSpec, pctx: PlanContext): AsyncGenerator<NewItem> {
  const filter = buildKeyFilter(spec);
  for (const [i, pair] of spec.pairs.entries()) {
    const s3 = s3For(pctx.ctx.config, pair.from.remote);
    const prefixes = spec.resolvedPrefixes?.[i] ?? [pair.from.prefix];
    for (const prefix of prefixes) {
      const rel = (key: string) => key.slice(pair.from.prefix.length);
      if (spec.listMode === 'coordinator') {
        const cutter = new RangeCutter(prefix, spec.rangeMaxKeys, spec.rangeMaxBytes);
        for await (const o of listObjects(s3, { bucket: pair.from.bucket, prefix })) {
          if (!filter(rel(o.key))) continue;
          const range = cutter.push(o.key, o.size);
          if (range) yield rangeItem(spec, i, range, false);
        }
        const last = cutter.finish();
        if (last) yield rangeItem(spec, i, last, false);
        continue;
      }
      const cutter = new RangeCutter(prefix, spec.rangeMaxKeys, spec.rangeMaxBytes);
      for await (const entry of listLevel(s3, pair.from.bucket, prefix)) {
        if ('childPrefix' in entry) {
          yield { itemId: listItemId(i, entry.childPrefix), kind: 's3-sync', group: groupOf(pair), spec: { type: 'list', pair: i, prefix: entry.childPrefix } satisfies S3SyncItemSpec };
          continue;
        }
        if (!filter(rel(entry.object.key))) continue;
        const range = cutter.push(entry.object.key, entry.object.size);
        if (range) yield rangeItem(spec, i, range, true);
      }
      const last = cutter.finish();
      if (last) yield rangeItem(spec, i, last, true);
    }
  }
}
