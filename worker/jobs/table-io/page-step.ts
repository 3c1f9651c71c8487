/**
 * One page of a table job: turn every source record into destination items (a record may become
 * several items, or none), then write them all durably. Shared by dynamodb-copy and
 * pg-to-dynamodb, whose loops differ only in how they read a page and where they resume.
 */
import type { ConvoyContext } from '../../../shared/context.js';
import type { ItemContext } from '../../job-kind.js';
import { BatchWriter, type WriteStats } from './batch-writer.js';
import type { AttributeMap } from '../../../shared/item-size.js';
import { adaptiveRatesFor } from '../../budget/adaptive-rates.js';
import { runBudget } from '../../budget/run-budget.js';
import { tableClient } from './table-ref.js';

/** The destination side every table job's spec has. */
export interface DestinationSpec {
  to: { remote: string; table: string };
  maxWcu?: number;
  writeConcurrency: number;
}

/** The BatchWriter for an item's destination table: run-wide WCU budget, lease checked before each send. */
export async function openDestinationWriter(
  ictx: ItemContext<DestinationSpec> & { ctx: ConvoyContext },
  destKeys: string[],
): Promise<BatchWriter> {
  const { spec, ctx } = ictx;
  return new BatchWriter({
    client: tableClient(ctx.config, spec.to.remote),
    table: spec.to.table,
    keys: destKeys,
    budget: await runBudget(ctx, ictx.run.runId, spec.maxWcu),
    // the table's fleet-wide adaptive rate (limits only after the table has throttled)
    rates: adaptiveRatesFor(ctx, ictx.run.runId).gate(`dynamodb:${spec.to.remote}/${spec.to.table}`, ictx.signal),
    concurrency: spec.writeConcurrency,
    signal: ictx.signal,
    beforeSend: ictx.assertLease,
  });
}

export interface PageResult {
  /** records that produced no item (a transform returned null or []) */
  dropped: number;
  /** items and bytes this page wrote */
  written: number;
  bytes: number;
}

export async function transformAndWrite<T>(
  records: T[],
  transform: (record: T) => AttributeMap[] | Promise<AttributeMap[]>,
  writer: BatchWriter,
  stats: WriteStats,
  beforeWrite: () => void,
): Promise<PageResult> {
  const outputs: AttributeMap[] = [];
  let dropped = 0;
  for (const record of records) {
    const out = await transform(record);
    if (!out.length) dropped++;
    for (const o of out) outputs.push(o);
  }
  beforeWrite();
  const written0 = stats.written;
  const bytes0 = stats.bytes;
  await writer.writeAll(outputs, stats);
  return { dropped, written: stats.written - written0, bytes: stats.bytes - bytes0 };
}
