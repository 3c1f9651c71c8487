/**
 * Expanding a `list` item into range items, for latest-only runs (handler.ts, ListObjectsV2) and
 * `--all-versions` runs (versions-planner.ts, ListObjectVersions): the caller passes in how its
 * keys are listed and how a cut range becomes an item; cutting, batching and the checkpoint are
 * here once.
 *
 * A retried list item resumes after the last range it added (its checkpoint), and once the
 * open-ended last range (--delete, ranges.ts `toEnd`) is added it adds nothing more: re-adding
 * from that range's lastKey would overlap it.
 */
import type { ItemRow, NewItem } from '../../../state/item-row.js';
import type { ItemContext, ItemOutcome } from '../../job-kind.js';
import { CarryingCutter } from './carried-listing.js';
import { buildKeyFilter } from './filters.js';
import { RangeCutter, type KeyRange } from './ranges.js';
import type { S3SyncSpec } from './spec.js';

const CHILD_BATCH = 100;

export interface ListExpansion<T extends { key: string; size: number }> {
  /** the item's prefix */
  prefix: string;
  /** where its listing starts: after the ranges the coordinator cut itself ('' = the start) */
  startAfter?: string;
  /** the pair's source prefix: keys are filtered relative to it */
  pairPrefix: string;
  /** the source's keys under the prefix after `startAfter`, in key order, with the bytes each range counts */
  keys(startAfter: string): AsyncIterable<T>;
  /** the hint that carries a range's listed entries to its handler (carried-listing.ts), if they are carried */
  carry?: (entries: T[], listedAtMs: number) => string | undefined;
  /** the child item for one cut range */
  makeItem(range: KeyRange, hint?: string): NewItem;
}

export async function expandListItem<T extends { key: string; size: number }>(
  item: ItemRow,
  ictx: ItemContext<S3SyncSpec>,
  x: ListExpansion<T>,
): Promise<ItemOutcome> {
  const { spec } = ictx;
  const filter = buildKeyFilter(spec);
  const checkpoint = item.checkpoint as { startAfter?: string; ended?: boolean } | undefined;
  if (checkpoint?.ended) return { bytes: 0, objects: 0 };
  const resumeAfter = checkpoint?.startAfter ?? x.startAfter ?? '';
  const cutter = new CarryingCutter<T>(
    new RangeCutter(x.prefix, spec.rangeMaxKeys, spec.rangeMaxBytes, resumeAfter),
    x.carry,
  );
  let batch: NewItem[] = [];
  let children = 0;
  const flush = async () => {
    if (!batch.length) return;
    await ictx.addChildren(batch);
    children += batch.length;
    const last = batch.at(-1)!.spec as { lastKey: string; toEnd?: boolean };
    await ictx.saveCheckpoint({ startAfter: last.lastKey, ended: last.toEnd === true }, { children });
    batch = [];
  };
  for await (const k of x.keys(resumeAfter)) {
    if (!filter(k.key.slice(x.pairPrefix.length))) continue;
    const cut = cutter.push(k);
    if (cut) batch.push(x.makeItem(cut.range, cut.hint));
    if (batch.length >= CHILD_BATCH) await flush();
  }
  const last = cutter.finish({ toEnd: spec.delete });
  if (last) batch.push(x.makeItem(last.range, last.hint));
  await flush();
  return { bytes: 0, objects: 0, children };
}
