/**
 * The runtime of pg-to-dynamodb: PostgreSQL/TimescaleDB rows into a DynamoDB single-table
 * design, as key ranges from quantiles read by keyset pages, mapped by a declarative mapping or a
 * transform module; catch-up passes; a verifier. What the kind adds to convoy is in ./plugin.ts.
 */
import type { JobKind } from '../../job-kind.js';
import { copyRange } from './handler.js';
import { planRanges, preflightPgToDynamo } from './plan.js';
import { pgToDynamoSpecSchema, type PgToDynamoSpec } from './spec.js';
import { verifyPgToDynamo } from './verify.js';

export const pgToDynamoKind: JobKind<PgToDynamoSpec> = {
  kind: 'pg-to-dynamodb',
  specSchema: pgToDynamoSpecSchema as never,
  preflight: (spec, ctx) => preflightPgToDynamo(spec, ctx.config),
  plan: (spec) => planRanges(spec),
  handle: copyRange,
  verify: verifyPgToDynamo,
};
