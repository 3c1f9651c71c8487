/**
 * The dynamodb-copy spec, as stored in the run row: source and destination (`remote:table`),
 * segments, the built-in rules, an optional transform module (its compiled source), the write
 * budget. Built from the CLI flags by `specFromFlags`; validated again by every worker.
 */
import * as z from 'zod';
import { InputError } from '../../../shared/errors.js';
import { parseTableRef } from '../table-io/table-ref.js';
import { transformSourceSchema } from '../table-io/transform-module.js';

const tableRefSchema = z.object({ remote: z.string().min(1), table: z.string().min(3) });

export const rulesSchema = z
  .object({
    /** substring replacements applied to every string attribute, nested ones included */
    rewrite: z.array(z.object({ from: z.string().min(1), to: z.string() })).default([]),
    /** top-level attribute renames */
    rename: z.array(z.object({ from: z.string().min(1), to: z.string().min(1) })).default([]),
    /** top-level attributes removed */
    drop: z.array(z.string().min(1)).default([]),
    /**
     * TTL handling: keep it (default), drop it, or recompute it as run start + seconds on items
     * that have one (run start, not "now", so a retried item writes the same value).
     */
    ttl: z
      .object({
        attribute: z.string().min(1),
        mode: z.enum(['keep', 'drop', 'recompute']),
        seconds: z.number().int().optional(),
      })
      .optional(),
  })
  .default({ rewrite: [], rename: [], drop: [] });
export type CopyRules = z.infer<typeof rulesSchema>;

export const copySpecSchema = z.object({
  from: tableRefSchema,
  to: tableRefSchema,
  /** parallel Scan segments = items. @defaultValue 16 */
  segments: z.number().int().min(1).max(1_000_000).default(16),
  /** Scan page size (items); omit for DynamoDB's 1 MB pages */
  pageSize: z.number().int().min(1).max(10_000).optional(),
  rules: rulesSchema,
  transform: transformSourceSchema.optional(),
  /** write capacity units per second for the whole run (split across live workers) */
  maxWcu: z.number().positive().optional(),
  /** BatchWriteItem calls in flight per segment. @defaultValue 8 */
  writeConcurrency: z.number().int().min(1).max(64).default(8),
  /** epoch ms of the run's creation, for recomputed TTLs */
  runStartedAtMs: z.number().int(),
});
export type CopySpec = z.infer<typeof copySpecSchema>;

/** "a=b" pairs from repeated flags; `what` names the flag. */
export function parsePairs(values: string[] | undefined, what: string): { from: string; to: string }[] {
  return (values ?? []).map((v) => {
    const i = v.indexOf('=');
    if (i <= 0)
      throw new InputError(
        `${what} "${v}" is not of the form old=new (for example ${what} dev-raw-bucket=prod-raw-bucket)`,
      );
    return { from: v.slice(0, i), to: v.slice(i + 1) };
  });
}

/** "ttl", "ttl:drop", "ttl:recompute=7776000" -> the TTL rule. */
export function parseTtl(value: string | undefined): CopyRules['ttl'] {
  if (!value) return undefined;
  const m = /^([^:]+)(?::(keep|drop|recompute)(?:=(\d+))?)?$/.exec(value);
  if (!m || (m[2] === 'recompute' && !m[3])) {
    throw new InputError(
      `--ttl "${value}" must be attr, attr:keep, attr:drop or attr:recompute=<seconds> (for example ttl:recompute=7776000)`,
    );
  }
  return {
    attribute: m[1]!,
    mode: (m[2] ?? 'keep') as 'keep' | 'drop' | 'recompute',
    seconds: m[3] ? Number(m[3]) : undefined,
  };
}

export interface CopyFlags {
  from: string;
  to: string;
  segments?: number;
  pageSize?: number;
  rewrite?: string[];
  rename?: string[];
  drop?: string[];
  ttl?: string;
  maxWcu?: number;
  writeConcurrency?: number;
}

export function specFromFlags(flags: CopyFlags, nowMs: number): Omit<CopySpec, 'transform'> {
  const from = parseTableRef(flags.from, '--from');
  const to = parseTableRef(flags.to, '--to');
  if (from.remote === to.remote && from.table === to.table)
    throw new InputError('--from and --to name the same table; copy into another table');
  if (flags.maxWcu !== undefined && !(flags.maxWcu > 0))
    throw new InputError(`--max-wcu must be a positive number, got ${flags.maxWcu}`);
  return {
    from,
    to,
    segments: flags.segments ?? 16,
    pageSize: flags.pageSize,
    rules: {
      rewrite: parsePairs(flags.rewrite, '--rewrite'),
      rename: parsePairs(flags.rename, '--rename'),
      drop: flags.drop ?? [],
      ttl: parseTtl(flags.ttl),
    },
    maxWcu: flags.maxWcu,
    writeConcurrency: flags.writeConcurrency ?? 8,
    runStartedAtMs: nowMs,
  };
}
