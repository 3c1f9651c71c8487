/**
 * Naming a DynamoDB table the way s3-sync names a bucket: `remote:table`, where `remote` is an
 * entry of the config's `remotes` (endpoint, region, credentials, like rclone remotes). A remote
 * used for tables needs a `dynamodbEndpoint` when it is not AWS itself; the local stack's `local`
 * remote has one, so `--from local:dev-table --to local:prod-table` works with no configuration.
 */
import { DescribeTableCommand, DynamoDBClient, ResourceNotFoundException } from '@aws-sdk/client-dynamodb';
import { getRemote, type ConvoyConfig, type RemoteConfig } from '../../../shared/config.js';
import { classifyError, InputError } from '../../../shared/errors.js';
import { httpHandler, withoutLoggerMiddleware } from '../../../shared/clients.js';

export interface TableRef {
  remote: string;
  table: string;
}

/** Parse "remote:table"; `what` names the option in the error message. */
export function parseTableRef(spec: string, what: string): TableRef {
  const m = /^([A-Za-z0-9_-]+):([A-Za-z0-9_.-]{3,255})$/.exec(spec);
  if (!m) {
    throw new InputError(
      `${what} "${spec}" is not of the form remote:table (for example local:dev-table); table names use 3-255 of A-Z a-z 0-9 _ . -`,
    );
  }
  return { remote: m[1]!, table: m[2]! };
}

export function formatTableRef(ref: TableRef): string {
  return `${ref.remote}:${ref.table}`;
}

function dynamoEndpointOf(remote: RemoteConfig): string | undefined {
  if (remote.dynamodbEndpoint) return remote.dynamodbEndpoint;
  if (remote.endpoint) {
    throw new InputError(
      `remote "${remote.name}" has an S3 endpoint but no "dynamodbEndpoint"; add "dynamodbEndpoint": "http://host:port" to it in the config to use its tables`,
    );
  }
  return undefined; // AWS DynamoDB in the remote's region
}

const clientCache = new Map<string, DynamoDBClient>();

/**
 * A low-level DynamoDB client for a remote (AttributeValue maps in and out: the copy path never
 * pays for marshalling). Cached per remote and process: connection reuse matters for throughput.
 */
export function tableClient(
  config: ConvoyConfig,
  remoteName: string,
  opts: { fresh?: boolean; maxAttempts?: number } = {},
): DynamoDBClient {
  const remote = getRemote(config, remoteName);
  const key = `${remoteName}|${remote.dynamodbEndpoint ?? ''}|${remote.region}`;
  const cached = !opts.fresh ? clientCache.get(key) : undefined;
  if (cached) return cached;
  const creds =
    remote.accessKeyId && remote.secretAccessKey
      ? { accessKeyId: remote.accessKeyId, secretAccessKey: remote.secretAccessKey, sessionToken: remote.sessionToken }
      : undefined;
  const client = new DynamoDBClient({
    region: remote.region,
    endpoint: dynamoEndpointOf(remote),
    credentials: creds,
    requestHandler: httpHandler(256),
    maxAttempts: opts.maxAttempts ?? 3,
  });
  withoutLoggerMiddleware(client);
  if (!opts.fresh) clientCache.set(key, client);
  return client;
}

export interface TableShape {
  /** key attribute names, hash first */
  keys: string[];
  itemCount?: number;
}

/** DescribeTable with messages that name the option; InputError when the table does not exist. */
export async function describeTable(client: DynamoDBClient, ref: TableRef, what: string): Promise<TableShape> {
  try {
    const out = await client.send(new DescribeTableCommand({ TableName: ref.table }));
    const schema = out.Table?.KeySchema ?? [];
    const hash = schema.find((k) => k.KeyType === 'HASH')?.AttributeName;
    const range = schema.find((k) => k.KeyType === 'RANGE')?.AttributeName;
    return { keys: [hash!, ...(range ? [range] : [])], itemCount: out.Table?.ItemCount };
  } catch (err) {
    if (err instanceof ResourceNotFoundException || (err as Error).name === 'ResourceNotFoundException') {
      throw new InputError(
        `${what} table "${ref.table}" does not exist on remote "${ref.remote}"; create it first or fix ${what}`,
      );
    }
    const c = classifyError(err);
    throw new InputError(`${what} ${formatTableRef(ref)} is not reachable: [${c.errorClass}] ${c.message}`, {
      cause: err,
    });
  }
}
