/**
 * s3-sync (runbooks 000 and 002): buckets from MinIO or any S3 endpoint to AWS S3, byte for byte.
 * One concept, registered once: spec (spec.ts), planner (planner.ts), handler (handler.ts),
 * verifier (verify.ts), and its `convoy plan s3-sync` command (cli.ts).
 */
import { addBuiltInKind } from '../index.js';
import type { JobKind } from '../types.js';
import { registerS3SyncPlanCommand } from './cli.js';
import { handleS3SyncItem } from './handler.js';
import { planS3Sync } from './planner.js';
import { preflightS3Sync } from './preflight.js';
import { s3SyncSpecSchema, type S3SyncSpec } from './spec.js';
import { verifyS3Sync } from './verify.js';

export const s3SyncJob: JobKind<S3SyncSpec> = {
  kind: 's3-sync',
  specSchema: s3SyncSpecSchema as never,
  preflight: (spec, ctx) => preflightS3Sync(spec, ctx.config),
  plan: planS3Sync,
  handle: handleS3SyncItem,
  verify: verifyS3Sync,
};

addBuiltInKind(s3SyncJob, registerS3SyncPlanCommand);
