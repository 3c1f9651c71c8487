/**
 * Key ranges for PostgreSQL sources: the split points are quantiles of the key column, so a skewed
 * table (most rows in the last month) still splits into ranges of about equal row counts.
 * The first range is open below and the last open above, so no row is left out, including rows
 * inserted at either end after planning. Ranges are half-open: lo <= key < hi.
 */
import type pg from 'pg';
import { quoteIdent, sourceRelation, type PgSource } from './pg-source.js';

export interface KeyRange {
  /** inclusive lower bound as PostgreSQL text; null = no lower bound */
  lo: string | null;
  /** exclusive upper bound as PostgreSQL text; null = no upper bound */
  hi: string | null;
}

/** Ranges from sorted split points (duplicates, from skew, collapse). */
export function rangesFromBoundaries(points: (string | null)[]): KeyRange[] {
  const uniq: string[] = [];
  for (const p of points) if (p !== null && p !== uniq[uniq.length - 1]) uniq.push(p);
  const ranges: KeyRange[] = [];
  let lo: string | null = null;
  for (const p of uniq) {
    ranges.push({ lo, hi: p });
    lo = p;
  }
  ranges.push({ lo, hi: null });
  return ranges;
}

/** The fractions 1/n .. (n-1)/n. */
export function quantileFractions(n: number): number[] {
  const out: number[] = [];
  for (let i = 1; i < n; i++) out.push(i / n);
  return out;
}

export function rangeLabel(r: KeyRange): string {
  return `${r.lo ?? '-inf'}..${r.hi ?? '+inf'}`;
}

/** SQL condition (and params appended to `params`) selecting the rows of a range. */
export function rangeCondition(keyColumn: string, keyType: string, r: KeyRange, params: unknown[]): string {
  const parts: string[] = [];
  const k = quoteIdent(keyColumn);
  if (r.lo !== null) {
    params.push(r.lo);
    parts.push(`${k} >= $${params.length}::${keyType}`);
  }
  if (r.hi !== null) {
    params.push(r.hi);
    parts.push(`${k} < $${params.length}::${keyType}`);
  }
  return parts.length ? parts.join(' AND ') : 'TRUE';
}

/**
 * Split points from quantiles of the key. Large tables are sampled (TABLESAMPLE SYSTEM, ~1M rows)
 * so planning does not sort a billion rows; queries are read whole.
 */
export async function keyQuantiles(
  client: pg.Pool | pg.PoolClient | pg.Client,
  src: PgSource,
  keyColumn: string,
  ranges: number,
  where: { sql: string; params: unknown[] } = { sql: 'TRUE', params: [] },
): Promise<(string | null)[]> {
  if (ranges <= 1) return [];
  let relation = sourceRelation(src);
  if (src.table !== undefined) {
    const est = await client.query('SELECT reltuples::float8 AS n FROM pg_class WHERE oid = to_regclass($1)', [
      src.table.split('.').map(quoteIdent).join('.'),
    ]);
    const n = Number(est.rows[0]?.n ?? 0);
    if (n > 2_000_000) relation = `${relation} TABLESAMPLE SYSTEM (${Math.min(100, (1_000_000 / n) * 100).toFixed(4)})`;
  }
  const params = [...where.params, quantileFractions(ranges)];
  const r = await client.query(
    `SELECT (percentile_disc($${params.length}::float8[]) WITHIN GROUP (ORDER BY ${quoteIdent(keyColumn)}))::text[] AS q FROM ${relation} WHERE ${where.sql}`,
    params,
  );
  return (r.rows[0]?.q ?? []) as (string | null)[];
}
