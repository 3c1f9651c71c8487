/**
 * One item = one key range of the source (`rows:<table>:<lo>..<hi>`), read by keyset pages:
 *
 *   rows = SELECT ... WHERE range AND (key, tiebreak) > checkpoint.after ORDER BY ... LIMIT page
 *     -> map every row (a bad row fails the item, naming the row)
 *     -> BatchWriter.writeAll (durable when it resolves)  | the next page is read meanwhile
 *     -> saveCheckpoint({ after, counts })
 * A retry resumes after the last recorded page; the page in flight at a crash is put again
 * (same keys: nothing duplicated).
 */
import type { ItemRow } from '../../../state/item-row.js';
import type { ItemContext, ItemOutcome } from '../../job-kind.js';
import { emptyStats } from '../table-io/batch-writer.js';
import type { KeyRange } from '../table-io/key-ranges.js';
import { classifyPgError, describeSource, pgPool } from '../table-io/pg-source.js';
import { openDestinationWriter, transformAndWrite } from '../table-io/page-step.js';
import { describeTable, tableClient } from '../table-io/table-ref.js';
import type { Row } from './mapping.js';
import { keyTextsOf, makeRowMapper, orderColumns, pageQuery, typeMap } from './rows.js';
import type { PgToDynamoSpec } from './spec.js';
import { PerContext } from '../../../shared/per-context.js';

export interface RangeCheckpoint {
  after?: string[];
  rows: number;
  written: number;
  dropped: number;
  bytes: number;
  pages: number;
}

const runInfo = new PerContext<Promise<{ types: Map<string, string>; destKeys: string[] }>>();

export function sourceInfo(runId: string, spec: PgToDynamoSpec, ctx: ItemContext<PgToDynamoSpec>['ctx']) {
  return runInfo.memo(ctx, runId, () =>
    Promise.all([
      describeSource(spec.source),
      describeTable(tableClient(ctx.config, spec.to.remote), spec.to, '--to'),
    ]).then(([cols, shape]) => ({ types: typeMap(cols), destKeys: shape.keys })),
  );
}

export async function copyRange(item: ItemRow, ictx: ItemContext<PgToDynamoSpec>): Promise<ItemOutcome> {
  const { spec, ctx } = ictx;
  const range: KeyRange = { lo: (item.spec.lo as string | null) ?? null, hi: (item.spec.hi as string | null) ?? null };
  const { types, destKeys } = await sourceInfo(ictx.run.runId, spec, ctx);
  const writer = await openDestinationWriter(ictx, destKeys);
  const mapper = await makeRowMapper(spec);
  const pool = pgPool(spec.source.url);
  const nKeys = orderColumns(spec).length;
  const cp: RangeCheckpoint = {
    rows: 0,
    written: 0,
    dropped: 0,
    bytes: 0,
    pages: 0,
    ...(item.checkpoint as RangeCheckpoint | undefined),
  };
  const stats = emptyStats();
  const read = (after: string[] | null) => {
    const q = pageQuery(spec, types, range, after, spec.pageSize);
    const p = pool.query<Row>(q).then(
      (r) => r.rows,
      (err) => {
        throw classifyPgError(err, `reading ${item.itemId}`);
      },
    );
    p.catch(() => undefined);
    return p;
  };
  let next = read(cp.after ?? null);
  for (;;) {
    const rows = await next;
    const full = rows.length === spec.pageSize;
    const after = rows.length ? keyTextsOf(rows[rows.length - 1]!, nKeys) : cp.after;
    if (full) next = read(after ?? null);
    const r = await transformAndWrite(rows, mapper, writer, stats, () => ictx.assertLease());
    cp.dropped += r.dropped;
    cp.rows += rows.length;
    cp.written += r.written;
    cp.bytes += r.bytes;
    cp.pages++;
    if (!full) break;
    cp.after = after;
    await ictx.saveCheckpoint(cp, { objects: cp.rows, bytes: cp.bytes });
  }
  return {
    bytes: cp.bytes,
    objects: cp.rows,
    written: cp.written,
    dropped: cp.dropped,
    pages: cp.pages,
    duplicateKeys: stats.duplicateKeys,
    unprocessedRetries: stats.unprocessedRetries,
    throttles: stats.throttles,
    consumedWcu: stats.consumedWcu,
  };
}
