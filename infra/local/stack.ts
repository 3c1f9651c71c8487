/**
 * The embedded local stack: dynalite (DynamoDB; on disk under a directory, or in memory) and
 * fauxqs (SQS and S3) on 127.0.0.1, with convoy's tables and queues created. Used in-process by
 * tests (port 0), by the `convoy local up` daemon, the demo and the benchmarks.
 * fauxqs's own startFauxqs() binds 0.0.0.0, so the app is built and bound to loopback here.
 *
 * The `aws-local` backend swaps in second implementations (./aws-local/): DynamoDB Local for
 * DynamoDB and radosgw for S3, with fauxqs still the SQS. Same tables, queues and remotes.
 */
import { MAX_RECEIVE_COUNT } from '../../shared/work-queue.js';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import dynalite from 'dynalite';
import { buildApp } from 'fauxqs';
import { stateSchema, type LocalBackend, type StateConfig } from '../../shared/config.js';
import { newS3User, startAwsLocalServers, type AwsLocalServers } from './aws-local/servers.js';
import { ensureTable, itemsTableDefinition, metaTableDefinition } from '../../state/schema.js';

export const LOCAL_CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' };
export const LOCAL_REGION = 'us-east-1';

export interface LocalStackOptions {
  /** which implementations: `embedded` (dynalite + fauxqs; the default) or `aws-local` */
  backend?: LocalBackend;
  /** aws-local: attach to these running servers instead of starting (and later stopping) them */
  awsLocal?: AwsLocalServers;
  /** aws-local: the S3 (radosgw) port (0 = any free port) */
  s3Port?: number;
  /** dynalite data directory; in memory when absent */
  dynamoPath?: string;
  /** fixed ports (0 = any free port) */
  dynamoPort?: number;
  sqsPort?: number;
  /** extra S3-only fauxqs servers (e.g. "minio" standing for a second S3 endpoint) */
  extraS3?: string[];
  /** table and queue names (tests use fresh ones per test) */
  names?: Partial<Pick<StateConfig, 'itemsTable' | 'metaTable' | 'queueName' | 'dlqName'>>;
  /** SQS redrive safety net: a message received this many times goes to the DLQ by SQS itself */
  maxReceiveCount?: number;
}

export interface LocalStack {
  backend: LocalBackend;
  state: StateConfig;
  endpoints: { dynamodb: string; sqs: string; s3: string } & Record<string, string>;
  /** a remote per S3 server: "local" (the main fauxqs) and one per `extraS3` name */
  remotes: Record<
    string,
    {
      endpoint: string;
      region: string;
      accessKeyId: string;
      secretAccessKey: string;
      forcePathStyle: boolean;
      dynamodbEndpoint?: string;
    }
  >;
  close(): Promise<void>;
}

type Closer = () => Promise<void>;

async function startDynalite(path: string | undefined, port: number): Promise<{ url: string; close: Closer }> {
  if (path) mkdirSync(path, { recursive: true });
  const server = dynalite({ path, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${bound}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      }),
  };
}

/**
 * fauxqs 1.9.2 moves expired in-flight messages (and due delayed ones) back only when something
 * receives, so GetQueueAttributes kept counting messages "in flight" for minutes after their
 * visibility ran out when no worker was polling (SQS itself recounts continuously). Its queue
 * class is not exported, so it is reached by file (pinned version) and patched once to settle
 * its timers before answering; if that file moves, the counts are merely stale again.
 */
let queueCountsPatched: Promise<void> | undefined;
function patchFauxqsQueueCounts(): Promise<void> {
  queueCountsPatched ??= (async () => {
    try {
      // by the resolver's search paths: import.meta.resolve is missing under vitest's module runner
      const dir = (createRequire(import.meta.url).resolve.paths('fauxqs') ?? [])
        .map((p) => path.join(p, 'fauxqs', 'dist', 'sqs'))
        .find((d) => existsSync(d));
      if (!dir) return;
      const file = pathToFileURL(path.join(dir, 'sqsStore.js')).href;
      const { SqsQueue } = (await import(file)) as {
        SqsQueue?: { prototype: { getAllAttributes(names: string[]): unknown; processTimers?(): void } };
      };
      const proto = SqsQueue?.prototype;
      if (!proto?.processTimers) return;
      const original = proto.getAllAttributes;
      proto.getAllAttributes = function (this: typeof proto, names: string[]) {
        this.processTimers!();
        return original.call(this, names);
      };
    } catch {
      // another fauxqs layout: counts stay as fauxqs reports them
    }
  })();
  return queueCountsPatched;
}

export async function startFauxqsServer(port = 0): Promise<{ url: string; close: Closer }> {
  await patchFauxqsQueueCounts();
  const app = buildApp({ logger: false, defaultRegion: LOCAL_REGION });
  await app.listen({ port, host: '127.0.0.1' });
  const { port: bound } = app.server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${bound}`, close: () => app.close() };
}

/** Create convoy's tables and queues (idempotent) on the given endpoints. */
export async function provisionState(
  state: StateConfig,
  opts: { maxReceiveCount?: number } = {},
): Promise<StateConfig> {
  const credentials = state.credentials ? { ...state.credentials } : undefined;
  const ddb = new DynamoDBClient({ region: state.region, endpoint: state.endpoints.dynamodb, credentials });
  const sqs = new SQSClient({
    region: state.region,
    endpoint: state.endpoints.sqs,
    credentials: credentials && { ...credentials },
  });
  try {
    await ensureTable(ddb, itemsTableDefinition(state.itemsTable));
    await ensureTable(ddb, metaTableDefinition(state.metaTable));
    const dlq = await sqs.send(
      new CreateQueueCommand({ QueueName: state.dlqName, Attributes: { MessageRetentionPeriod: '1209600' } }),
    );
    const dlqArn = (
      await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ['QueueArn'] }))
    ).Attributes!.QueueArn!;
    const main = await sqs.send(
      new CreateQueueCommand({
        QueueName: state.queueName,
        Attributes: {
          VisibilityTimeout: '60',
          MessageRetentionPeriod: '1209600',
          RedrivePolicy: JSON.stringify({
            deadLetterTargetArn: dlqArn,
            maxReceiveCount: opts.maxReceiveCount ?? MAX_RECEIVE_COUNT,
          }),
        },
      }),
    );
    return { ...state, queueUrl: main.QueueUrl, dlqUrl: dlq.QueueUrl };
  } finally {
    ddb.destroy();
    sqs.destroy();
  }
}

export async function startLocalStack(opts: LocalStackOptions = {}): Promise<LocalStack> {
  const backend = opts.backend ?? 'embedded';
  const closers: Closer[] = [];
  try {
    const fq = await startFauxqsServer(opts.sqsPort ?? 0);
    closers.push(fq.close);
    let dynamodb: string;
    /** an S3 endpoint and identity per remote: its own server (embedded) or tenant (aws-local) */
    let s3For: (name: string) => Promise<{ endpoint: string; accessKeyId: string; secretAccessKey: string }>;
    if (backend === 'aws-local') {
      let servers = opts.awsLocal;
      if (!servers) {
        const started = await startAwsLocalServers({
          dynamoPath: opts.dynamoPath,
          dynamoPort: opts.dynamoPort,
          s3Port: opts.s3Port,
        });
        closers.push(started.close);
        servers = started;
      }
      const on = servers;
      dynamodb = on.dynamodb;
      s3For = async (name) => {
        const { accessKeyId, secretAccessKey } = await newS3User(on, name);
        return { endpoint: on.s3, accessKeyId, secretAccessKey };
      };
    } else {
      const dyn = await startDynalite(opts.dynamoPath, opts.dynamoPort ?? 0);
      closers.push(dyn.close);
      dynamodb = dyn.url;
      s3For = async (name) => {
        // the main fauxqs serves "local"; every extra S3 endpoint is a fauxqs of its own
        if (name === 'local') return { endpoint: fq.url, ...LOCAL_CREDENTIALS };
        const extra = await startFauxqsServer(0);
        closers.push(extra.close);
        return { endpoint: extra.url, ...LOCAL_CREDENTIALS };
      };
    }
    // side by side: on aws-local each is a radosgw-admin process
    const extraNames = opts.extraS3 ?? [];
    const [main, ...extras] = await Promise.all(['local', ...extraNames].map((name) => s3For(name)));
    const endpoints: LocalStack['endpoints'] = { dynamodb, sqs: fq.url, s3: main!.endpoint };
    const remotes: LocalStack['remotes'] = {
      // dynamodbEndpoint: table jobs name the local DynamoDB as `local:<table>`
      local: { ...main!, region: LOCAL_REGION, forcePathStyle: true, dynamodbEndpoint: dynamodb },
    };
    for (const [i, name] of extraNames.entries()) {
      endpoints[`s3:${name}`] = extras[i]!.endpoint;
      remotes[name] = { ...extras[i]!, region: LOCAL_REGION, forcePathStyle: true };
    }
    const state = await provisionState(
      stateSchema.parse({
        region: LOCAL_REGION,
        credentials: { ...LOCAL_CREDENTIALS },
        endpoints: { dynamodb, sqs: fq.url },
        ...opts.names,
      }),
      { maxReceiveCount: opts.maxReceiveCount },
    );
    return {
      backend,
      state,
      endpoints,
      remotes,
      async close() {
        for (const close of closers.reverse()) await close().catch(() => undefined);
      },
    };
  } catch (err) {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    throw err;
  }
}
