/**
 * `npm run test:compat`: the engine, s3-sync and table tests again, on the second implementations
 * (CONVOY_TEST_BACKEND=aws-local: DynamoDB Local for DynamoDB, radosgw for S3; SQS stays fauxqs).
 * The servers start once (./setup.ts); each file keeps to its own tables, queues and S3 tenants.
 * docs/compat.md lists what runs here, what does not and why, and what differs between backends.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/**
 * Left out (docs/compat.md says why): test/s3-sync/fault.test.ts and test/tables/fleet-kill.test.ts
 * (kill -9 and volume: what they test is convoy's recovery, already shown on the embedded backend,
 * and they are the longest files), filters and tables-unit (no backend at all); s3-sync's limits
 * (--bwlimit/--tpslimit lower bounds: timing of convoy's own token buckets) and bad-input (refused
 * before any backend call): CI's 25 minutes hold the two Node suites and these, not those.
 */
export const COMPAT_FILES = [
  'test/state/items.test.ts',
  'test/engine/worker-delivery.test.ts',
  'test/engine/worker-lifecycle.test.ts',
  'test/engine/run-control.test.ts',
  'test/s3-sync/sync.test.ts',
  'test/s3-sync/keys.test.ts',
  'test/s3-sync/delete.test.ts',
  'test/s3-sync/filters-cli.test.ts',
  // --all-versions: fauxqs has no bucket versioning, radosgw has
  'test/s3-sync/versions.test.ts',
  'test/s3-sync/properties.test.ts',
  // the spread copy by parts on radosgw's own UploadPartCopy
  'test/s3-sync/part-copy-stores.test.ts',
  // what radosgw keeps of a full-object checksum asked of a multipart upload (nothing)
  'test/s3-sync/checksums-full-object.test.ts',
  'test/tables/batch-writer.test.ts',
  'test/tables/dynamodb-copy.test.ts',
  'test/tables/pg-to-dynamodb.test.ts',
  'test/tables/pg-to-s3.test.ts',
  'test/compat/*.test.ts',
];

export default defineConfig({
  test: {
    root: fileURLToPath(new URL('../..', import.meta.url)),
    include: COMPAT_FILES,
    globalSetup: ['test/compat/setup.ts'],
    pool: 'forks',
    // forks reused between files, as in the main suite (../../vitest.config.ts says why that is safe)
    poolOptions: { forks: { maxForks: 2, minForks: 1, isolate: false } },
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', CONVOY_TEST_BACKEND: 'aws-local' },
    // DynamoDB Local and radosgw answer more slowly than the in-process emulators
    testTimeout: 180_000,
    hookTimeout: 120_000,
  },
});
