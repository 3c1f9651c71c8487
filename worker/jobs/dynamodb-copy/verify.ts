/**
 * `convoy verify` for dynamodb-copy: every source segment is scanned again and counted (against
 * what its item recorded), a random sample of source items (Bernoulli, ~`sampleSize` in all) is
 * transformed again and compared attribute by attribute with the destination, and the destination
 * is counted. One JSONL report line per segment and per sampled item.
 */
import { paginateScan, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import pLimit from 'p-limit';
import type { ConvoyContext } from '../../../shared/context.js';
import { itemsOfRun } from '../../../state/item-bulk.js';
import type { ItemRow } from '../../../state/item-row.js';
import type { RunRow } from '../../../state/runs.js';
import type { VerifyOptions, VerifySummary } from '../../job-kind.js';
import { keyOf, keyText, type AttributeMap } from '../../../shared/item-size.js';
import { describeTable, formatTableRef, tableClient } from '../table-io/table-ref.js';
import { VerifyReport } from '../table-io/verify-report.js';
import { batchGet } from '../table-io/batch-get.js';
import { differingAttributes } from '../table-io/item-compare.js';
import { makeTransformer } from './pipeline.js';
import type { CopySpec } from './spec.js';

export async function countTable(
  client: DynamoDBClient,
  table: string,
  segments = 8,
  segment?: number,
): Promise<number> {
  const one = async (seg: number, total: number) => {
    let n = 0;
    for await (const out of paginateScan(
      { client },
      { TableName: table, Select: 'COUNT', Segment: seg, TotalSegments: total },
    ))
      n += out.Count ?? 0;
    return n;
  };
  if (segment !== undefined) return one(segment, segments);
  const counts = await Promise.all(Array.from({ length: segments }, (_, i) => one(i, segments)));
  return counts.reduce((a, b) => a + b, 0);
}

export async function verifyCopy(
  run: RunRow,
  spec: CopySpec,
  ctx: ConvoyContext,
  opts: VerifyOptions & { sampleSize?: number },
): Promise<VerifySummary> {
  const report = new VerifyReport(opts.reportPath);
  const source = tableClient(ctx.config, spec.from.remote);
  const dest = tableClient(ctx.config, spec.to.remote);
  const [srcShape, destShape] = await Promise.all([
    describeTable(source, spec.from, '--from'),
    describeTable(dest, spec.to, '--to'),
  ]);
  const segments = new Map<number, ItemRow>();
  for await (const page of itemsOfRun(ctx.items, run.runId))
    for (const it of page) segments.set(Number(it.spec.segment), it);
  const recorded = [...segments.values()].reduce((a, it) => a + (it.metrics?.objects ?? 0), 0);
  const sampleSize = opts.sampleSize ?? 200;
  const p = recorded > 0 ? Math.min(1, sampleSize / recorded) : 1;
  const sample: AttributeMap[] = [];
  const limit = pLimit(4);
  let sourceTotal = 0;
  await Promise.all(
    Array.from({ length: spec.segments }, (_, seg) =>
      limit(async () => {
        let n = 0;
        for await (const out of paginateScan(
          { client: source },
          { TableName: spec.from.table, Segment: seg, TotalSegments: spec.segments },
        )) {
          for (const it of (out.Items ?? []) as AttributeMap[]) {
            n++;
            if (Math.random() < p && sample.length < sampleSize * 2) sample.push(it);
          }
        }
        sourceTotal += n;
        const item = segments.get(seg);
        const row = {
          segment: `${seg}/${spec.segments}`,
          sourceCount: n,
          scanned: item?.metrics?.objects,
          written: item?.metrics?.written,
          status: item?.status,
        };
        if (item?.status !== 'done') report.add('segment_not_done', row);
        else if (item.metrics?.objects !== n) report.add('segment_count_differs', row);
        else report.add('ok', row);
      }),
    ),
  );
  const written = [...segments.values()].reduce((a, it) => a + (it.metrics?.written ?? 0), 0);
  const destCount = await countTable(dest, spec.to.table);
  report.info(
    `source ${formatTableRef(spec.from)}: ${sourceTotal} items in ${spec.segments} segments; recorded scanned ${recorded}, written ${written}`,
  );
  report.info(`destination ${formatTableRef(spec.to)}: ${destCount} items`);
  if (destCount < written) report.add('dest_count_short', { destCount, written });

  const transform = await makeTransformer(spec, srcShape.keys);
  const expected: AttributeMap[] = [];
  for (const it of sample) {
    try {
      expected.push(...(await transform(it)));
    } catch (err) {
      report.add('sample_transform_failed', { key: keyText(it, srcShape.keys), error: (err as Error).message });
    }
  }
  const found = await batchGet(
    dest,
    spec.to.table,
    expected.map((e) => keyOf(e, destShape.keys)),
    destShape.keys,
  );
  for (const e of expected) {
    const key = keyText(e, destShape.keys);
    const actual = found.get(key);
    if (!actual) report.add('sample_missing', { key });
    else {
      const diff = differingAttributes(e, actual);
      report.add(diff.length ? 'sample_differs' : 'sample_ok', diff.length ? { key, attributes: diff } : { key });
    }
  }
  report.info(`sampled ${sample.length} source item(s) -> ${expected.length} destination item(s) compared`);
  return report.finish(['ok', 'sample_ok']);
}
