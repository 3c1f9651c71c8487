/**
 * s3-sync: S3 buckets between endpoints (MinIO, AWS, any S3), byte for byte, with filters, the
 * latest snapshot only, fleet-wide rate limits and a verifier. This object is everything the
 * kind adds to convoy; its modules are imported only when a command or an item needs them.
 */
import { InvalidArgumentError, Option } from 'commander';
import { sizeInBytes } from '../../../shared/size.js';
import type { KindPlugin } from '../../job-kind.js';
import { describeObjectProperties } from './properties-summary.js';
import type { S3SyncSpec } from './spec.js';
import { STREAMED_BYTES_IN_FLIGHT, streamedBytes } from './streamed-bytes.js';

function streamBytesOption(value: string): number {
  const bytes = sizeInBytes(value);
  if (bytes === undefined || bytes < 1)
    throw new InvalidArgumentError(`--stream-bytes takes a size such as 64MiB or 1GiB, got "${value}".`);
  return bytes;
}

export const s3SyncPlugin: KindPlugin<S3SyncSpec> = {
  name: 's3-sync',
  load: async () => (await import('./job.js')).s3SyncJob,
  planCommand: async () => (await import('./cli.js')).registerS3SyncPlanCommand,
  // --bwlimit / --tpslimit, planned in the spec, tunable while the run works (convoy tune)
  rateLimits: { bwlimit: 'bwlimitBytesPerSecond', tpslimit: 'tpsLimit' },
  // what each object carries besides its bytes: tags, storage class, encryption, ACL
  describeSpec: (spec) => describeObjectProperties(spec),
  workerOptions: () => [
    new Option(
      '--stream-bytes <size>',
      `s3-sync: bytes of object bodies each worker process streams GET -> PUT at once, whatever --transfers says (objects over 1 MiB; default ${STREAMED_BYTES_IN_FLIGHT / 1024 / 1024}MiB)`,
    ).argParser(streamBytesOption),
  ],
  // per process, as given (not split like the host's --transfers): it bounds one process's memory
  configureWorkerProcess: (opts) => {
    if (opts.streamBytes !== undefined) streamedBytes.setLimit(opts.streamBytes as number);
  },
  // the --stream-bytes gate as an operator watches it: is the limit what holds the copies back?
  processGauges: () => [
    {
      name: 'convoy_worker_s3sync_streamed_bytes',
      help: 's3-sync: bytes of object bodies streaming GET -> PUT in this process now (objects over 1 MiB)',
      value: () => streamedBytes.inFlight,
    },
    {
      name: 'convoy_worker_s3sync_streamed_bytes_limit',
      help: 's3-sync: the most bytes this process streams at once (--stream-bytes)',
      value: () => streamedBytes.limit,
    },
    {
      name: 'convoy_worker_s3sync_copies_waiting_for_stream_bytes',
      help: 's3-sync: copies of large objects waiting for room under --stream-bytes',
      value: () => streamedBytes.waitingCopies,
    },
  ],
};
