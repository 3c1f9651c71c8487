/**
 * s3-sync: S3 buckets between endpoints (MinIO, AWS, any S3), byte for byte, with filters, the
 * latest snapshot only, fleet-wide rate limits and a verifier. This object is everything the
 * kind adds to convoy; its modules are imported only when a command or an item needs them.
 */
import type { KindPlugin } from '../../job-kind.js';
import { describeObjectProperties } from './properties-summary.js';
import type { S3SyncSpec } from './spec.js';

export const s3SyncPlugin: KindPlugin<S3SyncSpec> = {
  name: 's3-sync',
  load: async () => (await import('./job.js')).s3SyncJob,
  planCommand: async () => (await import('./cli.js')).registerS3SyncPlanCommand,
  // --bwlimit / --tpslimit, planned in the spec, tunable while the run works (convoy tune)
  rateLimits: { bwlimit: 'bwlimitBytesPerSecond', tpslimit: 'tpsLimit' },
  // what each object carries besides its bytes: tags, storage class, encryption, ACL
  describeSpec: (spec) => describeObjectProperties(spec),
};
