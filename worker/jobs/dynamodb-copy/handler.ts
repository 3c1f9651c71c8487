/**
 * One item = one parallel Scan segment (`segment:<n>/<N>`).
 *
 *   page = Scan(segment, from checkpoint.lastKey)
 *     -> transform every item (rules, module)          a bad row fails the item, naming the row
 *     -> BatchWriter.writeAll(page)                     durable when it resolves
 *     -> saveCheckpoint({ lastKey, counts })            only after the page is written
 * The next page is read while one is written, and a page's checkpoint is saved while the next
 * page is written (awaited before the following one and at the end): at ~10-20 ms a request,
 * neither costs the segment a round trip per page. A checkpoint still never names a page that is
 * not written.
 * A retried or taken-over segment resumes after the last page recorded; the page in flight at a
 * crash is written again, which is harmless (puts of the same keys: nothing duplicated).
 */
import { ScanCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import type { ItemRow } from '../../../state/item-row.js';
import type { ItemContext, ItemOutcome } from '../../job-kind.js';
import { emptyStats } from '../table-io/batch-writer.js';
import type { AttributeMap } from '../../../shared/item-size.js';
import { openDestinationWriter, transformAndWrite } from '../table-io/page-step.js';
import { describeTable, tableClient } from '../table-io/table-ref.js';
import { makeTransformer } from './pipeline.js';
import type { CopySpec } from './spec.js';
import { PerContext } from '../../../shared/per-context.js';

export interface SegmentCheckpoint {
  lastKey?: Record<string, AttributeValue>;
  scanned: number;
  written: number;
  dropped: number;
  bytes: number;
  pages: number;
}

const shapeCache = new PerContext<Promise<{ sourceKeys: string[]; destKeys: string[] }>>();

function shapes({ spec, ctx, run }: ItemContext<CopySpec>) {
  return shapeCache.memo(ctx, run.runId, () =>
    Promise.all([
      describeTable(tableClient(ctx.config, spec.from.remote), spec.from, '--from'),
      describeTable(tableClient(ctx.config, spec.to.remote), spec.to, '--to'),
    ]).then(([s, d]) => ({ sourceKeys: s.keys, destKeys: d.keys })),
  );
}

export async function copySegment(item: ItemRow, ictx: ItemContext<CopySpec>): Promise<ItemOutcome> {
  const { spec, ctx } = ictx;
  const segment = Number(item.spec.segment);
  const total = Number(item.spec.total);
  const { sourceKeys, destKeys } = await shapes(ictx);
  const source = tableClient(ctx.config, spec.from.remote);
  const writer = await openDestinationWriter(ictx, destKeys);
  const transform = await makeTransformer(spec, sourceKeys);
  const prev = item.checkpoint as SegmentCheckpoint | undefined;
  const cp: SegmentCheckpoint = { scanned: 0, written: 0, dropped: 0, bytes: 0, pages: 0, ...prev };
  const stats = emptyStats();
  let lastKey = prev?.lastKey;
  // Read the next page while the current one is written: the segment's two halves overlap.
  const scan = (start: typeof lastKey) =>
    source.send(
      new ScanCommand({
        TableName: spec.from.table,
        Segment: segment,
        TotalSegments: total,
        ExclusiveStartKey: start,
        Limit: spec.pageSize,
      }),
      { abortSignal: ictx.signal },
    );
  const prefetch = (start: typeof lastKey) => {
    const p = scan(start);
    p.catch(() => undefined); // awaited below; never an unhandled rejection if we stop early
    return p;
  };
  let next = prefetch(lastKey);
  let saving: Promise<void> | undefined;
  for (;;) {
    const page = await next;
    const items = (page.Items ?? []) as AttributeMap[];
    lastKey = page.LastEvaluatedKey;
    if (lastKey) next = prefetch(lastKey);
    const r = await transformAndWrite(items, transform, writer, stats, () => ictx.assertLease());
    cp.dropped += r.dropped;
    cp.scanned += items.length;
    cp.written += r.written;
    cp.bytes += r.bytes;
    cp.pages++;
    if (!lastKey) break;
    cp.lastKey = lastKey;
    await saving; // one checkpoint write at a time, in page order
    saving = ictx.saveCheckpoint({ ...cp }, { objects: cp.scanned, bytes: cp.bytes });
    saving.catch(() => undefined); // awaited above or below; never unhandled if a write fails first
  }
  await saving;
  return outcome(cp, stats);
}

function outcome(cp: SegmentCheckpoint, stats: ReturnType<typeof emptyStats>): ItemOutcome {
  return {
    bytes: cp.bytes,
    objects: cp.scanned,
    written: cp.written,
    dropped: cp.dropped,
    pages: cp.pages,
    duplicateKeys: stats.duplicateKeys,
    unprocessedRetries: stats.unprocessedRetries,
    throttles: stats.throttles,
    consumedWcu: stats.consumedWcu,
  };
}
