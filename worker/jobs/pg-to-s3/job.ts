/**
 * The runtime of pg-to-s3: an event store from PostgreSQL into NDJSON.gz partitions on S3 with a
 * manifest per run, and a verifier. What the kind adds to convoy is declared in ./plugin.ts.
 */
import type { JobKind } from '../../job-kind.js';
import { exportPartition } from './handler.js';
import { planPartitions, preflightPgToS3 } from './plan.js';
import { pgToS3SpecSchema, type PgToS3Spec } from './spec.js';
import { verifyPgToS3 } from './verify.js';

export const pgToS3Kind: JobKind<PgToS3Spec> = {
  kind: 'pg-to-s3',
  specSchema: pgToS3SpecSchema as never,
  preflight: (spec, ctx) => preflightPgToS3(spec, ctx.config),
  plan: planPartitions,
  handle: exportPartition,
  verify: verifyPgToS3,
};
