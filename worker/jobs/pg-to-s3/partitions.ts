/**
 * Time partitions: pure naming and arithmetic. A partition is [startSec, endSec) in UTC epoch
 * seconds, aligned to multiples of its length; its object key sorts by time:
 *   <prefix>/<source>/2024/01/05/20240105T060000Z.ndjson.gz
 */
export interface Partition {
  startSec: number;
  endSec: number;
  /** rows counted when the run was planned */
  rows: number;
  key: string;
}

export function compactIso(sec: number): string {
  return new Date(sec * 1000)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}

export function isoOf(sec: number): string {
  return new Date(sec * 1000).toISOString();
}

export function joinKey(...parts: string[]): string {
  return parts
    .map((p) => p.replace(/^\/+|\/+$/g, ''))
    .filter(Boolean)
    .join('/');
}

export function partitionKey(prefix: string, source: string, startSec: number): string {
  const d = new Date(startSec * 1000).toISOString();
  return joinKey(
    prefix,
    source.replace(/[^A-Za-z0-9_.-]/g, '_'),
    d.slice(0, 4),
    d.slice(5, 7),
    d.slice(8, 10),
    `${compactIso(startSec)}.ndjson.gz`,
  );
}

export function manifestKey(prefix: string, runId: string): string {
  return joinKey(prefix, '_manifests', `${runId}.json`);
}

/** Partitions overlapping [fromMs, toMs), in time order. */
export function overlapping<T extends { startSec: number; endSec: number }>(
  parts: T[],
  fromMs: number,
  toMs: number,
): T[] {
  return parts
    .filter((p) => p.endSec * 1000 > fromMs && p.startSec * 1000 < toMs)
    .sort((a, b) => a.startSec - b.startSec);
}

/** One row as one NDJSON line: stable bytes for equal rows (binary as base64). */
export function rowLine(row: Record<string, unknown>): string {
  return (
    JSON.stringify(row, (_k, v) =>
      v &&
      typeof v === 'object' &&
      (v as { type?: string }).type === 'Buffer' &&
      Array.isArray((v as { data?: unknown }).data)
        ? Buffer.from((v as { data: number[] }).data).toString('base64')
        : v,
    ) + '\n'
  );
}
