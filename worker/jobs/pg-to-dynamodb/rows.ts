/**
 * Reading a key range of a PostgreSQL source page by page (keyset pagination on (key, tiebreak):
 * no OFFSET, every page an index range scan), and turning rows into DynamoDB items through the
 * mapping or the transform module. Key values travel as text and are cast back with the column's
 * type, so no precision is lost between pages.
 */
import { marshall } from '@aws-sdk/util-dynamodb';
import { ConvoyError, toError } from '../../../shared/errors.js';
import type { AttributeMap } from '../../../shared/item-size.js';
import { rangeCondition, type KeyRange } from '../table-io/key-ranges.js';
import { quoteIdent, sourceName, sourceRelation, type ColumnInfo } from '../table-io/pg-source.js';
import { loadTransform, transformOutputs } from '../table-io/transform-module.js';
import { mapRow, type Row } from './mapping.js';
import type { PgToDynamoSpec } from './spec.js';

/** The filter every query of a run shares: non-NULL key, and the catch-up window. */
export function baseFilter(spec: PgToDynamoSpec, types: Map<string, string>, params: unknown[]): string {
  const parts = [`${quoteIdent(spec.key)} IS NOT NULL`];
  if (spec.since !== undefined) {
    params.push(spec.since);
    parts.push(
      `${quoteIdent(spec.updatedColumn!)} > $${params.length}::${types.get(spec.updatedColumn!) ?? 'timestamptz'}`,
    );
  }
  return parts.join(' AND ');
}

export function orderColumns(spec: PgToDynamoSpec): string[] {
  return [spec.key, ...spec.tiebreak.filter((c) => c !== spec.key)];
}

/** SELECT for the page after `after` (the last row's order values as text) within a range. */
export function pageQuery(
  spec: PgToDynamoSpec,
  types: Map<string, string>,
  range: KeyRange,
  after: string[] | null,
  limit: number,
): { text: string; values: unknown[] } {
  const params: unknown[] = [];
  const order = orderColumns(spec);
  const where = [baseFilter(spec, types, params), rangeCondition(spec.key, types.get(spec.key)!, range, params)];
  if (after) {
    const placeholders = after.map((v, i) => {
      params.push(v);
      return `$${params.length}::${types.get(order[i]!)}`;
    });
    where.push(`(${order.map(quoteIdent).join(', ')}) > (${placeholders.join(', ')})`);
  }
  const keyTexts = order.map((c, i) => `${quoteIdent(c)}::text AS "__convoy_k${i}"`).join(', ');
  params.push(limit);
  return {
    text: `SELECT src.*, ${keyTexts} FROM ${sourceRelation(spec.source)} WHERE ${where.join(' AND ')} ORDER BY ${order.map(quoteIdent).join(', ')} LIMIT $${params.length}`,
    values: params,
  };
}

export function keyTextsOf(row: Row, n: number): string[] {
  return Array.from({ length: n }, (_, i) => row[`__convoy_k${i}`] as string);
}

/** "events key=2024-01-01T00:00:00Z, id=42": how messages name a row. */
export function rowName(spec: PgToDynamoSpec, row: Row): string {
  const order = orderColumns(spec);
  return `${sourceName(spec.source)} ${order.map((c, i) => `${c}=${row[`__convoy_k${i}`] ?? row[c]}`).join(', ')}`;
}

function stripInternal(row: Row): Row {
  const out: Row = {};
  for (const [k, v] of Object.entries(row)) if (!k.startsWith('__convoy_')) out[k] = v;
  return out;
}

export type RowMapper = (row: Row) => Promise<AttributeMap[]> | AttributeMap[];

export async function makeRowMapper(spec: PgToDynamoSpec): Promise<RowMapper> {
  if (spec.mapping) {
    const m = spec.mapping;
    return (row) => [mapRow(row, m, rowName(spec, row), spec.runStartedAtMs)];
  }
  const fn = await loadTransform(spec.transform!);
  return async (row) => {
    const name = rowName(spec, row);
    let outputs: Record<string, unknown>[];
    try {
      outputs = transformOutputs(await fn(stripInternal(row)));
    } catch (err) {
      throw new ConvoyError(
        'TRANSFORM_FAILED',
        `transform ${spec.transform!.path} failed on row ${name}: ${toError(err).message}`,
        { retryable: false, cause: err, context: { row: name } },
      );
    }
    try {
      return outputs.map(
        (o) => marshall(o, { removeUndefinedValues: true, convertClassInstanceToMap: false }) as AttributeMap,
      );
    } catch (err) {
      throw new ConvoyError(
        'UNCONVERTIBLE_VALUE',
        `row ${name}: the transform's output cannot be stored in DynamoDB: ${toError(err).message}`,
        { retryable: false, cause: err, context: { row: name } },
      );
    }
  };
}

export function typeMap(columns: ColumnInfo[]): Map<string, string> {
  return new Map(columns.map((c) => [c.name, c.type]));
}
