/**
 * Planning an `--all-versions` run: the same range items as a latest-only run (planner.ts), cut
 * from ListObjectVersions instead of ListObjectsV2, so that a key whose newest version is a delete
 * marker (absent from ListObjectsV2) is planned too, and every version of a key falls in the one
 * range (startAfter, lastKey] that holds the key (a range's bounds are keys, never versions).
 *
 * listMode auto: the coordinator lists one level (Delimiter '/'); keys directly under the prefix
 * are cut into range items, each child prefix becomes a `list` item that a worker expands
 * (expandVersionsList). listMode coordinator: the whole listing is streamed into range items.
 * A range's size counts every version's bytes; its key count counts keys.
 */
import type { NewItem } from '../../../state/item-row.js';
import type { ItemOutcome, PlanContext } from '../../job-kind.js';
import type { ItemContext } from '../../job-kind.js';
import type { ItemRow } from '../../../state/item-row.js';
import { s3For } from './endpoints.js';
import { buildKeyFilter } from './filters.js';
import { rangeItem, type S3SyncItemSpec } from './planner.js';
import { RangeCutter, listItemId } from './ranges.js';
import { groupOf, type S3SyncSpec } from './spec.js';
import { listKeyVersions, listVersionsLevel, type KeyVersions } from './versions-listing.js';

const CHILD_BATCH = 100;

const bytesOf = (k: KeyVersions) => k.versions.reduce((n, v) => n + v.size, 0);

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
          yield {
            itemId: listItemId(i, e.childPrefix),
            kind: 's3-sync',
            group: groupOf(pair),
            spec: { type: 'list', pair: i, prefix: e.childPrefix } satisfies S3SyncItemSpec,
          };
          continue;
        }
        if (!filter(rel(e.key))) continue;
        const range = cutter.push(e.key, bytesOf(e));
        if (range) yield rangeItem(spec, i, range, direct);
      }
      const last = cutter.finish();
      if (last) yield rangeItem(spec, i, last, direct);
    }
  }
}

/** A `list` item of an --all-versions run: its prefix's keys (every version) cut into range items. */
export async function expandVersionsList(
  item: ItemRow,
  itemSpec: Extract<S3SyncItemSpec, { type: 'list' }>,
  ictx: ItemContext<S3SyncSpec>,
): Promise<ItemOutcome> {
  const { spec } = ictx;
  const pair = spec.pairs[itemSpec.pair]!;
  const filter = buildKeyFilter(spec);
  // a retried list item resumes after the last range it added
  const resumeAfter = (item.checkpoint as { startAfter?: string } | undefined)?.startAfter ?? '';
  const cutter = new RangeCutter(itemSpec.prefix, spec.rangeMaxKeys, spec.rangeMaxBytes, resumeAfter);
  let batch: NewItem[] = [];
  let children = 0;
  const flush = async () => {
    if (!batch.length) return;
    await ictx.addChildren(batch);
    children += batch.length;
    await ictx.saveCheckpoint({ startAfter: (batch.at(-1)!.spec as { lastKey: string }).lastKey }, { children });
    batch = [];
  };
  for await (const k of listKeyVersions(s3For(ictx.ctx.config, pair.from.remote), {
    bucket: pair.from.bucket,
    prefix: itemSpec.prefix,
    startAfter: resumeAfter,
    signal: ictx.signal,
  })) {
    if (!filter(k.key.slice(pair.from.prefix.length))) continue;
    const range = cutter.push(k.key, bytesOf(k));
    if (range) batch.push(rangeItem(spec, itemSpec.pair, range, false));
    if (batch.length >= CHILD_BATCH) await flush();
  }
  const last = cutter.finish();
  if (last) batch.push(rangeItem(spec, itemSpec.pair, last, false));
  await flush();
  return { bytes: 0, objects: 0, children };
}
