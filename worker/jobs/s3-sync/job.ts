/**
 * The runtime of s3-sync: spec (spec.ts), planner (planner.ts), handler (handler.ts), verifier
 * (verify.ts). What the kind adds to convoy is declared in ./plugin.ts.
 */
import type { JobKind } from '../../job-kind.js';
import { handleS3SyncItem } from './handler.js';
import { planS3Sync } from './planner.js';
import { preflightS3Sync } from './preflight.js';
import { planVersions } from './versions-planner.js';
import { s3SyncSpecSchema, type S3SyncSpec } from './spec.js';
import { verifyS3Sync } from './verify.js';

export const s3SyncJob: JobKind<S3SyncSpec> = {
  kind: 's3-sync',
  specSchema: s3SyncSpecSchema as never,
  preflight: (spec, ctx) => preflightS3Sync(spec, ctx.config),
  // --all-versions lists ListObjectVersions instead (versions-planner.ts)
  plan: (spec, pctx) => (spec.allVersions ? planVersions(spec, pctx) : planS3Sync(spec, pctx)),
  handle: handleS3SyncItem,
  verify: verifyS3Sync,
};
