/**
 * AWS SDK client construction, shared by every component. Same code for AWS and the local stack:
 * only the endpoint, credentials and path style differ (see ../shared/notes/local-stack.md for
 * why the checksum settings are relaxed for custom endpoints).
 */
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { S3Client } from '@aws-sdk/client-s3';
import { fromIni } from '@aws-sdk/credential-providers';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { RemoteConfig, StateConfig } from './config.js';

/** Keep-alive sockets: connection reuse roughly doubles small-request throughput. */
export function httpHandler(maxSockets = 256): NodeHttpHandler {
  return new NodeHttpHandler({
    httpAgent: new HttpAgent({ keepAlive: true, maxSockets }),
    httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets }),
    connectionTimeout: 5_000,
    requestTimeout: 120_000,
  });
}

type Creds = { accessKeyId: string; secretAccessKey: string; sessionToken?: string };

function credentialsFor(c: {
  credentials?: Creds;
  profile?: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  sessionToken?: string;
}) {
  // copies: the SDK decorates the object it is given
  if (c.credentials)
    return {
      accessKeyId: c.credentials.accessKeyId,
      secretAccessKey: c.credentials.secretAccessKey,
      sessionToken: c.credentials.sessionToken,
    };
  if (c.accessKeyId && c.secretAccessKey) {
    return { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey, sessionToken: c.sessionToken };
  }
  if (c.profile) return fromIni({ profile: c.profile });
  return undefined; // the SDK's default chain
}

/**
 * The SDK's logger middleware makes a redacted copy of every input and output (every item of a
 * 1 MB Scan page) for a logger that does nothing: ~10% of a worker's CPU in a profile. We log
 * ourselves, so it goes.
 */
export function withoutLoggerMiddleware<T extends { middlewareStack: { remove(name: string): boolean } }>(
  client: T,
): T {
  client.middlewareStack.remove('loggerMiddleware');
  return client;
}

export interface StateClients {
  ddb: DynamoDBDocumentClient;
  sqs: SQSClient;
  destroy(): void;
}

export function makeStateClients(
  state: StateConfig,
  opts: { maxSockets?: number; maxAttempts?: number } = {},
): StateClients {
  const common = {
    region: state.region,
    credentials: credentialsFor(state),
    requestHandler: httpHandler(opts.maxSockets ?? 128),
    maxAttempts: opts.maxAttempts ?? 5,
  };
  const raw = withoutLoggerMiddleware(new DynamoDBClient({ ...common, endpoint: state.endpoints.dynamodb }));
  const ddb = DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });
  const sqs = withoutLoggerMiddleware(new SQSClient({ ...common, endpoint: state.endpoints.sqs }));
  return {
    ddb,
    sqs,
    destroy() {
      raw.destroy();
      sqs.destroy();
    },
  };
}

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
