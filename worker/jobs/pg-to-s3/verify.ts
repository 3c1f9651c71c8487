/**
 * `convoy verify` for pg-to-s3: for every partition, PostgreSQL is read again (same query, same
 * order, same serialisation) and the S3 object is downloaded and gunzipped; row counts and the
 * sha256 of the NDJSON must agree with each other and with what the exporter recorded. Rows now
 * in the source but outside every planned partition (arrived after planning) are counted too.
 * The verified manifest (with hashes) is written next to the run's manifest.
 */
import pLimit from 'p-limit';
import type { ConvoyContext } from '../../../shared/context.js';
import { classifyError } from '../../../shared/errors.js';
import { itemsOfRun } from '../../../state/item-bulk.js';
import type { ItemRow } from '../../../state/item-row.js';
import type { RunRow } from '../../../state/runs.js';
import type { VerifyOptions, VerifySummary } from '../../job-kind.js';
import { pgPool, sourceRelation } from '../table-io/pg-source.js';
import { VerifyReport } from '../table-io/verify-report.js';
import { readPartition } from './export.js';
import { s3For, type PartitionResult } from './handler.js';
import { hashObject } from './object-reader.js';
import { isoOf, joinKey } from './partitions.js';
import { boundsFilter, writeManifest, type Manifest } from './plan.js';
import type { PgToS3Spec } from './spec.js';

export async function verifyPgToS3(
  run: RunRow,
  spec: PgToS3Spec,
  ctx: ConvoyContext,
  opts: VerifyOptions,
): Promise<VerifySummary> {
  const report = new VerifyReport(opts.reportPath);
  const s3 = s3For(ctx.config, spec.to.remote);
  const items: ItemRow[] = [];
  for await (const page of itemsOfRun(ctx.items, run.runId)) items.push(...page);
  items.sort((a, b) => Number(a.spec.startSec) - Number(b.spec.startSec));
  const limit = pLimit(3);
  const verified: Manifest['partitions'] = [];
  let planned = 0;
  await Promise.all(
    items.map((it) =>
      limit(async () => {
        const startSec = Number(it.spec.startSec);
        const endSec = Number(it.spec.endSec);
        const key = String(it.spec.key);
        const recorded = it.checkpoint as PartitionResult | undefined;
        const pgSide = await readPartition(spec, startSec, endSec, () => undefined);
        planned += pgSide.rows;
        const row: Record<string, unknown> = {
          partition: isoOf(startSec),
          key,
          pgRows: pgSide.rows,
          pgSha256: pgSide.sha256,
          status: it.status,
        };
        if (it.status !== 'done') return report.add('partition_not_done', row);
        let s3Side: { rows: number; sha256: string };
        try {
          s3Side = await hashObject(s3, spec.to.bucket, key);
        } catch (err) {
          return report.add('object_missing', { ...row, error: classifyError(err).message });
        }
        Object.assign(row, { s3Rows: s3Side.rows, s3Sha256: s3Side.sha256, recordedRows: recorded?.rows });
        if (s3Side.rows !== pgSide.rows) report.add('count_differs', row);
        else if (s3Side.sha256 !== pgSide.sha256 || (recorded && recorded.sha256 !== s3Side.sha256))
          report.add('hash_differs', row);
        else {
          report.add('ok', row);
          verified.push({
            start: isoOf(startSec),
            end: isoOf(endSec),
            startSec,
            endSec,
            key,
            rows: s3Side.rows,
            sha256: s3Side.sha256,
          });
        }
      }),
    ),
  );
  const f = boundsFilter(spec);
  const total = Number(
    (
      await pgPool(spec.source.url).query(
        `SELECT count(*) AS n FROM ${sourceRelation(spec.source)} WHERE ${f.sql}`,
        f.params,
      )
    ).rows[0].n,
  );
  if (total !== planned) report.add('rows_outside_partitions', { pgTotal: total, inPartitions: planned });
  report.info(`${items.length} partition(s); PostgreSQL ${total} rows in bounds, ${planned} in the run's partitions`);
  const summary = await report.finish(['ok']);
  verified.sort((a, b) => a.startSec - b.startSec);
  await writeManifest(spec, ctx.config, joinKey(spec.to.prefix, '_manifests', `${run.runId}.verified.json`), {
    runId: run.runId,
    kind: 'pg-to-s3',
    source: spec.source.table ?? `query: ${spec.source.query}`,
    timeColumn: spec.timeColumn,
    order: spec.order,
    partitionSeconds: spec.partitionSeconds,
    bucket: spec.to.bucket,
    createdAt: new Date().toISOString(),
    totalRows: verified.reduce((a, p) => a + p.rows, 0),
    partitions: verified,
  });
  return summary;
}
