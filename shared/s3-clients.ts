/**
 * S3 clients for remotes (see ../shared/notes/local-stack.md for why the checksum settings are
 * relaxed for custom endpoints). Apart from ./clients.ts: the S3 client is the SDK's largest, and
 * commands that only read the state tables never need it.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { credentialsFor, httpHandler, withoutLoggerMiddleware } from './clients.js';
import type { RemoteConfig } from './config.js';

export function makeS3Client(remote: RemoteConfig, opts: { maxSockets?: number; maxAttempts?: number } = {}): S3Client {
  const custom = remote.endpoint !== undefined;
  return withoutLoggerMiddleware(
    new S3Client({
      region: remote.region,
      endpoint: remote.endpoint,
      credentials: credentialsFor(remote),
      forcePathStyle: remote.forcePathStyle ?? custom,
      requestHandler: httpHandler(opts.maxSockets ?? 256),
      maxAttempts: opts.maxAttempts ?? 4,
      ...(custom
        ? { requestChecksumCalculation: 'WHEN_REQUIRED' as const, responseChecksumValidation: 'WHEN_REQUIRED' as const }
        : {}),
    }),
  );
}

const sharedS3Clients = new Map<string, S3Client>();

/**
 * One S3 client per remote and process, for the paths that send many requests to it: keep-alive
 * sockets are only reused through the same client. Keyed by what the remote says (endpoint,
 * region, identity), not by its name, so a name that points elsewhere in another config (a test
 * stack, a re-read config file) never gets a client of the old endpoint.
 */
export function sharedS3Client(remote: RemoteConfig, opts: { maxSockets?: number } = {}): S3Client {
  const key = JSON.stringify([remote, opts.maxSockets ?? 256]);
  let client = sharedS3Clients.get(key);
  if (!client) {
    client = makeS3Client(remote, opts);
    sharedS3Clients.set(key, client);
  }
  return client;
}

/** Whether two remotes are the same service and identity, so CopyObject can copy server-side. */
export function sameS3Account(a: RemoteConfig, b: RemoteConfig): boolean {
  return (
    a.endpoint === b.endpoint &&
    a.region === b.region &&
    a.profile === b.profile &&
    a.accessKeyId === b.accessKeyId &&
    a.secretAccessKey === b.secretAccessKey
  );
}
