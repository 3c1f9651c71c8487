/**
 * Streaming one partition out of PostgreSQL: a read-only REPEATABLE READ transaction with a
 * server-side cursor (bounded memory for any partition size; duplicates in the order columns are
 * fine, unlike keyset pages), FETCHed in batches. The same reader serves the export and the
 * verifier, so both see the same rows in the same order and serialise them to the same bytes.
 */
import { createHash } from 'node:crypto';
import { quoteIdent, pgClient, sourceRelation, classifyPgError } from '../table-io/pg-source.js';
import { rowLine } from './partitions.js';
import type { PgToS3Spec } from './spec.js';

export function partitionQuery(spec: PgToS3Spec, startSec: number, endSec: number): string {
  // epoch seconds are integers we computed, so inlining them is safe (DECLARE takes no parameters)
  const t = quoteIdent(spec.timeColumn);
  return `SELECT src.* FROM ${sourceRelation(spec.source)} WHERE ${t} >= to_timestamp(${Math.trunc(startSec)}) AND ${t} < to_timestamp(${Math.trunc(endSec)}) ORDER BY ${spec.order.map(quoteIdent).join(', ')}`;
}

/** Call `onBatch` with each batch of serialised lines; returns the row count and the sha256 of all lines. */
export async function readPartition(
  spec: PgToS3Spec,
  startSec: number,
  endSec: number,
  onBatch: (lines: string) => Promise<void> | void,
  signal?: AbortSignal,
): Promise<{ rows: number; sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let rows = 0;
  let bytes = 0;
  const client = await pgClient(spec.source.url).catch((err) => {
    throw classifyPgError(err, 'connecting to PostgreSQL');
  });
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    await client.query(`DECLARE convoy_part NO SCROLL CURSOR FOR ${partitionQuery(spec, startSec, endSec)}`);
    for (;;) {
      if (signal?.aborted) throw signal.reason;
      const r = await client.query(`FETCH ${spec.fetchSize} FROM convoy_part`);
      if (!r.rows.length) break;
      let chunk = '';
      for (const row of r.rows) chunk += rowLine(row);
      hash.update(chunk);
      rows += r.rows.length;
      bytes += Buffer.byteLength(chunk);
      await onBatch(chunk);
      if (r.rows.length < spec.fetchSize) break;
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw classifyPgError(err, `reading partition ${startSec}..${endSec}`);
  } finally {
    await client.end().catch(() => undefined);
  }
  return { rows, sha256: hash.digest('hex'), bytes };
}
