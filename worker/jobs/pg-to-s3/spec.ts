/**
 * The pg-to-s3 spec (stored in the run row): an event table (or query) exported as NDJSON+gzip
 * objects, one per time partition, ordered within a partition by `order` (e.g. aggregate_id,
 * sequence; or the time column and an id).
 */
import * as z from 'zod';
import { InputError } from '../../../shared/errors.js';
import { pgSourceSchema } from '../table-io/pg-source.js';

export const pgToS3SpecSchema = z.object({
  source: pgSourceSchema,
  /** the column partitions are cut on (timestamp or timestamptz) */
  timeColumn: z.string().min(1),
  /** ORDER BY within a partition; should be unique for a stable order (and so a stable hash) */
  order: z.array(z.string().min(1)).min(1),
  /** partition length in seconds (3600 = hourly) */
  partitionSeconds: z
    .number()
    .int()
    .min(60)
    .max(366 * 86400),
  to: z.object({ remote: z.string().min(1), bucket: z.string().min(1), prefix: z.string() }),
  /** optional bounds (ISO); default: every row */
  fromTime: z.string().optional(),
  toTime: z.string().optional(),
  /** rows per FETCH from the cursor. @defaultValue 2000 */
  fetchSize: z.number().int().min(1).max(100_000).default(2000),
  runStartedAtMs: z.number().int(),
});
export type PgToS3Spec = z.infer<typeof pgToS3SpecSchema>;

/** "hour", "day", "15m", "6h", "2d" -> seconds. */
export function parsePartition(value: string | undefined): number {
  const v = (value ?? 'day').trim().toLowerCase();
  if (v === 'hour' || v === 'hourly') return 3600;
  if (v === 'day' || v === 'daily') return 86400;
  const m = /^(\d+)\s*(m|h|d)$/.exec(v);
  if (!m || Number(m[1]) <= 0)
    throw new InputError(`--partition "${value}" must be hour, day, or <n>m / <n>h / <n>d (for example 6h)`);
  const secs = Number(m[1]) * { m: 60, h: 3600, d: 86400 }[m[2] as 'm' | 'h' | 'd'];
  if (secs < 60) throw new InputError('--partition must be at least 1m');
  return secs;
}
