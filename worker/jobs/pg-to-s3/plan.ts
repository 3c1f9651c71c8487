/**
 * Building, checking and planning a pg-to-s3 run. Partitions come from one GROUP BY over the
 * time column (empty partitions are skipped); the run's manifest (every planned partition with
 * its object key and row count) is written to `<prefix>/_manifests/<run>.json` when planning ends.
 */
import { HeadBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type { ConvoyConfig } from '../../../shared/config.js';
import { formatZodIssues, getRemote, parseRemotePath } from '../../../shared/config.js';
import { InputError, classifyError } from '../../../shared/errors.js';
import type { NewItem } from '../../../state/item-row.js';
import type { PlanContext } from '../../job-kind.js';
import {
  checkPgUrl,
  describeSource,
  pgPool,
  primaryKeyColumns,
  quoteIdent,
  requireColumns,
  sourceName,
  sourceRelation,
} from '../table-io/pg-source.js';
import { isoOf, manifestKey, partitionKey, type Partition } from './partitions.js';
import { s3For } from './handler.js';
import { parsePartition, pgToS3SpecSchema, type PgToS3Spec } from './spec.js';

export interface PgToS3Flags {
  from: string;
  table?: string;
  query?: string;
  timeColumn: string;
  order?: string[];
  partition?: string;
  to: string;
  fromTime?: string;
  toTime?: string;
  fetchSize?: number;
}

export async function pgS3SpecFromFlags(flags: PgToS3Flags, nowMs = Date.now()): Promise<PgToS3Spec> {
  checkPgUrl(flags.from, '--from');
  if ((flags.table === undefined) === (flags.query === undefined))
    throw new InputError('give exactly one of --table <name> or --query <sql>');
  const source = { url: flags.from, table: flags.table, query: flags.query };
  await describeSource(source, '--from');
  const pk = flags.table ? await primaryKeyColumns(flags.from, flags.table) : [];
  const order = flags.order ?? [flags.timeColumn, ...pk.filter((c) => c !== flags.timeColumn)];
  const dest = parseRemotePath(flags.to, '--to');
  for (const [name, v] of [
    ['--from-time', flags.fromTime],
    ['--to-time', flags.toTime],
  ] as const) {
    if (v !== undefined && !Number.isFinite(Date.parse(v)))
      throw new InputError(`${name} "${v}" is not a timestamp (for example 2024-11-01T00:00:00Z)`);
  }
  const parsed = pgToS3SpecSchema.safeParse({
    source,
    timeColumn: flags.timeColumn,
    order,
    partitionSeconds: parsePartition(flags.partition),
    to: { remote: dest.remote, bucket: dest.bucket, prefix: dest.prefix },
    fromTime: flags.fromTime,
    toTime: flags.toTime,
    fetchSize: flags.fetchSize ?? 2000,
    runStartedAtMs: nowMs,
  });
  if (!parsed.success) throw new InputError(`invalid pg-to-s3 spec:\n${formatZodIssues(parsed.error)}`);
  return parsed.data;
}

export async function preflightPgToS3(spec: PgToS3Spec, config: ConvoyConfig): Promise<void> {
  const columns = await describeSource(spec.source, '--from');
  requireColumns(columns, [spec.timeColumn], '--time-column');
  requireColumns(columns, spec.order, '--order');
  const t = columns.find((c) => c.name === spec.timeColumn)!.type;
  if (!/^timestamp/.test(t))
    throw new InputError(`--time-column ${spec.timeColumn} has type ${t}; give a timestamp column`);
  getRemote(config, spec.to.remote);
  try {
    await s3For(config, spec.to.remote).send(new HeadBucketCommand({ Bucket: spec.to.bucket }));
  } catch (err) {
    const c = classifyError(err);
    throw new InputError(
      `--to ${spec.to.remote}:${spec.to.bucket}: the bucket is not reachable or does not exist (${c.errorClass}: ${c.message}); create it first`,
      { cause: err },
    );
  }
}

export function boundsFilter(spec: PgToS3Spec): { sql: string; params: unknown[] } {
  const t = quoteIdent(spec.timeColumn);
  const parts = [`${t} IS NOT NULL`];
  const params: unknown[] = [];
  if (spec.fromTime) {
    params.push(spec.fromTime);
    parts.push(`${t} >= $${params.length}::timestamptz`);
  }
  if (spec.toTime) {
    params.push(spec.toTime);
    parts.push(`${t} < $${params.length}::timestamptz`);
  }
  return { sql: parts.join(' AND '), params };
}

/** Partitions with rows, in time order (bounds clip the first and last partition). */
export async function listPartitions(spec: PgToS3Spec): Promise<Partition[]> {
  const f = boundsFilter(spec);
  const secs = spec.partitionSeconds;
  const r = await pgPool(spec.source.url).query(
    `SELECT (floor(extract(epoch FROM ${quoteIdent(spec.timeColumn)}) / ${secs})::bigint * ${secs})::text AS start, count(*)::text AS n
     FROM ${sourceRelation(spec.source)} WHERE ${f.sql} GROUP BY 1 ORDER BY 1`,
    f.params,
  );
  const lo = spec.fromTime ? Math.ceil(Date.parse(spec.fromTime) / 1000) : -Infinity;
  const hi = spec.toTime ? Math.floor(Date.parse(spec.toTime) / 1000) : Infinity;
  return r.rows.map((row: { start: string; n: string }) => {
    const start = Number(row.start);
    const startSec = Math.max(start, lo);
    return {
      startSec,
      endSec: Math.min(start + secs, hi),
      rows: Number(row.n),
      key: partitionKey(spec.to.prefix, sourceName(spec.source), startSec),
    };
  });
}

export interface Manifest {
  runId: string;
  kind: 'pg-to-s3';
  source: string;
  timeColumn: string;
  order: string[];
  partitionSeconds: number;
  bucket: string;
  createdAt: string;
  totalRows: number;
  partitions: {
    start: string;
    end: string;
    startSec: number;
    endSec: number;
    key: string;
    rows: number;
    sha256?: string;
  }[];
}

export async function* planPartitions(spec: PgToS3Spec, pctx: PlanContext): AsyncIterable<NewItem> {
  const parts = await listPartitions(spec);
  const name = sourceName(spec.source);
  for (const p of parts) {
    yield {
      itemId: `part:${name}:${isoOf(p.startSec)}`,
      kind: 'pg-to-s3',
      group: name,
      spec: { startSec: p.startSec, endSec: p.endSec, key: p.key, rows: p.rows },
    };
  }
  const manifest: Manifest = {
    runId: pctx.runId,
    kind: 'pg-to-s3',
    source: spec.source.table ?? `query: ${spec.source.query}`,
    timeColumn: spec.timeColumn,
    order: spec.order,
    partitionSeconds: spec.partitionSeconds,
    bucket: spec.to.bucket,
    createdAt: new Date(spec.runStartedAtMs).toISOString(),
    totalRows: parts.reduce((a, p) => a + p.rows, 0),
    partitions: parts.map((p) => ({
      start: isoOf(p.startSec),
      end: isoOf(p.endSec),
      startSec: p.startSec,
      endSec: p.endSec,
      key: p.key,
      rows: p.rows,
    })),
  };
  await writeManifest(spec, pctx.ctx.config, manifestKey(spec.to.prefix, pctx.runId), manifest);
}

export async function writeManifest(
  spec: PgToS3Spec,
  config: ConvoyConfig,
  key: string,
  manifest: Manifest,
): Promise<void> {
  await s3For(config, spec.to.remote).send(
    new PutObjectCommand({
      Bucket: spec.to.bucket,
      Key: key,
      Body: JSON.stringify(manifest, null, 1),
      ContentType: 'application/json',
    }),
  );
}
