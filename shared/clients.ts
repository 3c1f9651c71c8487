/**
 * AWS SDK client construction, shared by every component: the state clients (DynamoDB, SQS), the
 * HTTP handler and credentials every client takes. Same code for AWS and the local stack: only
 * the endpoint and credentials differ. S3 clients are ./s3-clients.ts (the commands that only
 * read state, such as `convoy status`, do not load the S3 client).
 */
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { fromIni } from '@aws-sdk/credential-providers';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { StateConfig } from './config.js';
import { StateDocumentClient } from './dynamodb-document-client.js';
import { StateSqsClient } from './sqs-client.js';

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

export function credentialsFor(c: {
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
  // the per-item requests (single-item writes, the queue's receives and deletes) as lean requests,
  // measured in ./aws-json-requests.ts; the rest the SDK's
  const ddb = new StateDocumentClient(
    raw,
    { marshallOptions: { removeUndefinedValues: true } },
    { maxAttempts: common.maxAttempts, maxSockets: opts.maxSockets ?? 128 },
  );
  const sqs = withoutLoggerMiddleware(
    new StateSqsClient({ ...common, endpoint: state.endpoints.sqs }, { maxSockets: opts.maxSockets ?? 128 }),
  );
  return {
    ddb,
    sqs,
    destroy() {
      ddb.destroy();
      raw.destroy();
      sqs.destroy();
    },
  };
}
