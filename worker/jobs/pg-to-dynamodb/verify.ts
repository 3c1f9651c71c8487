/**
 * `convoy verify` for pg-to-dynamodb: each range's rows are counted in PostgreSQL again (with the
 * run's filters) and compared with what its item read; a random sample of rows is mapped again
 * and compared field by field with the destination items. Rows added after the run (the
 * dual-write window) show up as count differences: that is what the `--since` pass is for.
 */
import pLimit from 'p-limit';
import type { ConvoyContext } from '../../../shared/context.js';
import { itemsOfRun } from '../../../state/item-bulk.js';
import type { ItemRow } from '../../../state/item-row.js';
import type { RunRow } from '../../../state/runs.js';
import type { VerifyOptions, VerifySummary } from '../../job-kind.js';
import { batchGet } from '../table-io/batch-get.js';
import { differingAttributes } from '../table-io/item-compare.js';
import { keyOf, keyText, type AttributeMap } from '../../../shared/item-size.js';
import { rangeCondition, rangeLabel } from '../table-io/key-ranges.js';
import { describeSource, pgPool, quoteIdent, sourceRelation } from '../table-io/pg-source.js';
import { describeTable, tableClient } from '../table-io/table-ref.js';
import { VerifyReport } from '../table-io/verify-report.js';
import type { Row } from './mapping.js';
import { baseFilter, makeRowMapper, orderColumns, rowName, typeMap } from './rows.js';
import type { PgToDynamoSpec } from './spec.js';

export async function verifyPgToDynamo(
  run: RunRow,
  spec: PgToDynamoSpec,
  ctx: ConvoyContext,
  opts: VerifyOptions & { sampleSize?: number },
): Promise<VerifySummary> {
  const report = new VerifyReport(opts.reportPath);
  const types = typeMap(await describeSource(spec.source));
  const pool = pgPool(spec.source.url);
  const dest = tableClient(ctx.config, spec.to.remote);
  const shape = await describeTable(dest, spec.to, '--to');
  const items: ItemRow[] = [];
  for await (const page of itemsOfRun(ctx.items, run.runId)) items.push(...page);
  const limit = pLimit(4);
  let pgTotal = 0;
  let readTotal = 0;
  await Promise.all(
    items.map((it) =>
      limit(async () => {
        const params: unknown[] = [];
        const range = { lo: (it.spec.lo as string | null) ?? null, hi: (it.spec.hi as string | null) ?? null };
        const where = `${baseFilter(spec, types, params)} AND ${rangeCondition(spec.key, types.get(spec.key)!, range, params)}`;
        const n = Number(
          (await pool.query(`SELECT count(*) AS n FROM ${sourceRelation(spec.source)} WHERE ${where}`, params)).rows[0]
            .n,
        );
        pgTotal += n;
        readTotal += it.metrics?.objects ?? 0;
        const row = {
          range: rangeLabel(range),
          pgRows: n,
          rowsRead: it.metrics?.objects,
          written: it.metrics?.written,
          status: it.status,
        };
        if (it.status !== 'done') report.add('range_not_done', row);
        else if (it.metrics?.objects !== n) report.add('range_count_differs', row);
        else report.add('ok', row);
      }),
    ),
  );
  report.info(
    `source ${spec.source.table ?? 'query'}: ${pgTotal} rows in ${items.length} ranges; the run read ${readTotal}`,
  );

  const params: unknown[] = [];
  const order = orderColumns(spec);
  const keyTexts = order.map((c, i) => `${quoteIdent(c)}::text AS "__convoy_k${i}"`).join(', ');
  const sample = (
    await pool.query<Row>(
      `SELECT src.*, ${keyTexts} FROM ${sourceRelation(spec.source)} WHERE ${baseFilter(spec, types, params)} ORDER BY random() LIMIT ${opts.sampleSize ?? 200}`,
      params,
    )
  ).rows;
  const mapper = await makeRowMapper(spec);
  const expected: { row: string; item: AttributeMap }[] = [];
  for (const row of sample) {
    try {
      for (const item of await mapper(row)) expected.push({ row: rowName(spec, row), item });
    } catch (err) {
      report.add('sample_unmappable', { row: rowName(spec, row), error: (err as Error).message });
    }
  }
  const found = await batchGet(
    dest,
    spec.to.table,
    expected.map((e) => keyOf(e.item, shape.keys)),
    shape.keys,
  );
  for (const e of expected) {
    const key = keyText(e.item, shape.keys);
    const actual = found.get(key);
    if (!actual) report.add('sample_missing', { row: e.row, key });
    else {
      const diff = differingAttributes(e.item, actual);
      if (diff.length) report.add('sample_differs', { row: e.row, key, fields: diff });
      else report.add('sample_ok', { row: e.row, key });
    }
  }
  report.info(`sampled ${sample.length} row(s), compared ${expected.length} item(s) field by field`);
  return report.finish(['ok', 'sample_ok']);
}
