/**
 * Building, checking and planning a pg-to-dynamodb run.
 *  - `pgDynamoSpecFromFlags`: flags -> spec; reads the mapping file or the transform module, finds
 *    the tiebreak columns (the primary key), takes the watermark (max of the updated column), and
 *    resolves `--since <run-id>` to that run's watermark minus an overlap.
 *  - `preflightPgToDynamo`: the database answers, the relation and every named column exist, the
 *    destination table exists, and a sample of rows maps to items carrying its key.
 *  - `planRanges`: key ranges from quantiles.
 */
import { readFileSync } from 'node:fs';
import type { ConvoyContext } from '../../../shared/context.js';
import type { ConvoyConfig } from '../../../shared/config.js';
import { formatZodIssues } from '../../../shared/config.js';
import { InputError, toError } from '../../../shared/errors.js';
import { getRun } from '../../../state/runs.js';
import type { NewItem } from '../../../state/item-row.js';
import { preparePuts } from '../table-io/batch-writer.js';
import { keyQuantiles, rangeLabel, rangesFromBoundaries } from '../table-io/key-ranges.js';
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
import { describeTable, parseTableRef, tableClient } from '../table-io/table-ref.js';
import { readTransformSource } from '../table-io/transform-module.js';
import { mappingColumns, mappingSchema, type Mapping } from './mapping.js';
import { baseFilter, makeRowMapper, pageQuery, typeMap } from './rows.js';
import { pgToDynamoSpecSchema, type PgToDynamoSpec } from './spec.js';

export interface PgToDynamoFlags {
  from: string;
  table?: string;
  query?: string;
  key: string;
  tiebreak?: string[];
  to: string;
  mapping?: string;
  transform?: string;
  ranges?: number;
  pageSize?: number;
  updatedColumn?: string;
  since?: string;
  sinceOverlapSeconds?: number;
  maxWcu?: number;
  writeConcurrency?: number;
}

export function readMapping(file: string): Mapping {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new InputError(`--mapping ${file}: cannot read it as JSON (${toError(err).message})`);
  }
  const parsed = mappingSchema.safeParse(raw);
  if (!parsed.success) throw new InputError(`--mapping ${file} is invalid:\n${formatZodIssues(parsed.error)}`);
  return parsed.data;
}

export async function pgDynamoSpecFromFlags(
  flags: PgToDynamoFlags,
  ctx: { meta?: ConvoyContext['meta'] } = {},
  nowMs = Date.now(),
): Promise<PgToDynamoSpec> {
  checkPgUrl(flags.from, '--from');
  if ((flags.table === undefined) === (flags.query === undefined))
    throw new InputError('give exactly one of --table <name> or --query <sql>');
  if ((flags.mapping === undefined) === (flags.transform === undefined))
    throw new InputError('give exactly one of --mapping <file.json> or --transform <module>');
  const source = { url: flags.from, table: flags.table, query: flags.query };
  const columns = await describeSource(source, '--from');
  const tiebreak =
    flags.tiebreak ??
    (flags.table ? (await primaryKeyColumns(flags.from, flags.table)).filter((c) => c !== flags.key) : []);
  let since: string | undefined;
  let updatedColumn = flags.updatedColumn;
  if (flags.since) {
    const prev = ctx.meta && !/^\d{4}-\d\d-\d\d/.test(flags.since) ? await getRun(ctx.meta, flags.since) : undefined;
    if (prev) {
      const ps = prev.spec as Partial<PgToDynamoSpec>;
      if (!ps.watermark)
        throw new InputError(
          `--since ${flags.since}: that run recorded no watermark (it had no --updated-column); give a timestamp instead`,
        );
      updatedColumn ??= ps.updatedColumn;
      const overlap = flags.sinceOverlapSeconds ?? 300;
      since = (
        await pgPool(flags.from).query('SELECT ($1::timestamptz - make_interval(secs => $2))::text AS t', [
          ps.watermark,
          overlap,
        ])
      ).rows[0].t;
    } else if (/^\d{4}-\d\d-\d\d/.test(flags.since)) {
      since = flags.since;
    } else {
      throw new InputError(`--since "${flags.since}" is neither a run id nor a timestamp (e.g. 2024-05-01T00:00:00Z)`);
    }
    if (!updatedColumn)
      throw new InputError("--since needs --updated-column <column> (the column holding each row's last change time)");
  }
  requireColumns(columns, [flags.key, ...tiebreak, ...(updatedColumn ? [updatedColumn] : [])], '--from');
  let watermark: string | undefined;
  if (updatedColumn) {
    const r = await pgPool(flags.from).query(
      `SELECT max(${quoteIdent(updatedColumn)})::text AS w FROM ${sourceRelation(source)}`,
    );
    watermark = r.rows[0]?.w ?? undefined;
  }
  const spec = {
    source,
    key: flags.key,
    tiebreak,
    updatedColumn,
    since,
    watermark,
    to: parseTableRef(flags.to, '--to'),
    ranges: flags.ranges ?? 16,
    pageSize: flags.pageSize ?? 1000,
    mapping: flags.mapping ? readMapping(flags.mapping) : undefined,
    transform: flags.transform ? await readTransformSource(flags.transform) : undefined,
    maxWcu: flags.maxWcu,
    writeConcurrency: flags.writeConcurrency ?? 8,
    runStartedAtMs: nowMs,
  };
  const parsed = pgToDynamoSpecSchema.safeParse(spec);
  if (!parsed.success) throw new InputError(`invalid pg-to-dynamodb spec:\n${formatZodIssues(parsed.error)}`);
  return parsed.data;
}

export async function preflightPgToDynamo(spec: PgToDynamoSpec, config: ConvoyConfig): Promise<void> {
  const columns = await describeSource(spec.source, '--from');
  requireColumns(columns, [spec.key, ...spec.tiebreak, ...(spec.updatedColumn ? [spec.updatedColumn] : [])], '--from');
  if (spec.mapping) requireColumns(columns, mappingColumns(spec.mapping), '--mapping');
  const keyType = columns.find((c) => c.name === spec.key)!.type;
  if (!/int|numeric|real|double|timestamp|date|serial|decimal|uuid|text|character/.test(keyType)) {
    throw new InputError(`--key ${spec.key} has type ${keyType}; use a numeric or timestamp column`);
  }
  const dest = await describeTable(tableClient(config, spec.to.remote), spec.to, '--to');
  const types = typeMap(columns);
  const mapper = await makeRowMapper(spec);
  const rows = (await pgPool(spec.source.url).query(pageQuery(spec, types, { lo: null, hi: null }, null, 20))).rows;
  const errors: string[] = [];
  for (const row of rows) {
    try {
      preparePuts(await mapper(row), dest.keys);
    } catch (err) {
      errors.push(toError(err).message);
    }
  }
  if (rows.length && errors.length === rows.length) {
    throw new InputError(
      `the ${spec.mapping ? 'mapping' : `transform ${spec.transform!.path}`} turned none of ${rows.length} sampled rows into an item for ${spec.to.table} (key ${dest.keys.join(', ')}); first error: ${errors[0]}`,
    );
  }
}

export async function* planRanges(spec: PgToDynamoSpec): AsyncIterable<NewItem> {
  const columns = await describeSource(spec.source, '--from');
  const types = typeMap(columns);
  const params: unknown[] = [];
  const where = baseFilter(spec, types, params);
  const points = await keyQuantiles(pgPool(spec.source.url), spec.source, spec.key, spec.ranges, {
    sql: where,
    params,
  });
  const name = sourceName(spec.source);
  for (const r of rangesFromBoundaries(points)) {
    yield {
      itemId: `rows:${name}:${rangeLabel(r)}`,
      kind: 'pg-to-dynamodb',
      group: name,
      spec: { lo: r.lo, hi: r.hi },
    };
  }
}
