/**
 * The pg-to-dynamodb spec (stored in the run row): the PostgreSQL source and its key column, the
 * destination table, the mapping (declarative) or a transform module, the catch-up window.
 */
import * as z from 'zod';
import { pgSourceSchema } from '../table-io/pg-source.js';
import { transformSourceSchema } from '../table-io/transform-module.js';
import { mappingSchema } from './mapping.js';

export const pgToDynamoSpecSchema = z
  .object({
    source: pgSourceSchema,
    /** the range column (numeric or timestamp); rows with a NULL key are not copied */
    key: z.string().min(1),
    /** columns that make (key, ...tiebreak) unique, for keyset pagination (default: the table's primary key) */
    tiebreak: z.array(z.string().min(1)).default([]),
    /** a column holding each row's last change time, for catch-up passes */
    updatedColumn: z.string().min(1).optional(),
    /** catch-up: only rows with updatedColumn > since (PostgreSQL timestamp text) */
    since: z.string().min(1).optional(),
    /** max(updatedColumn) when this run was planned: the next catch-up pass starts here */
    watermark: z.string().optional(),
    to: z.object({ remote: z.string().min(1), table: z.string().min(3) }),
    /** key ranges (= items), chosen from quantiles. @defaultValue 16 */
    ranges: z.number().int().min(1).max(100_000).default(16),
    /** rows per keyset page. @defaultValue 1000 */
    pageSize: z.number().int().min(1).max(50_000).default(1000),
    mapping: mappingSchema.optional(),
    transform: transformSourceSchema.optional(),
    maxWcu: z.number().positive().optional(),
    writeConcurrency: z.number().int().min(1).max(64).default(8),
    runStartedAtMs: z.number().int(),
  })
  .refine((s) => (s.mapping === undefined) !== (s.transform === undefined), {
    message: 'give exactly one of mapping or transform',
  })
  .refine((s) => s.since === undefined || s.updatedColumn !== undefined, { message: 'since needs updatedColumn' });
export type PgToDynamoSpec = z.infer<typeof pgToDynamoSpecSchema>;
