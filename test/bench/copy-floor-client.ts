/**
 * The least a Node.js process can do to server-side copy a bucket: bench:copy-floor's clients
 * (copy-floor.ts). Every request is signed with convoy's own SigV4 signer (shared/sigv4.ts) and
 * sent over keep-alive node:http; there is no SDK, no retry, no check beyond the status code.
 * Three roles:
 *   - `copy`: list the source bucket (ListObjectsV2, 1,000 keys a page) and send one CopyObject
 *     per key, N in flight: a floor under any Node design of bench:s3 case (c).
 *   - `plan` and `work`, started together: the same copy in the shape convoy's design has (a
 *     coordinator process and a worker process, an SQS queue between them, a DynamoDB row per
 *     work item), and nothing more: `plan` lists the source, writes one row per range of keys
 *     (PutItem) and sends one message per range holding its keys (SendMessageBatch); `work`
 *     long-polls the queue, claims each range's row (a conditional UpdateItem), copies its keys
 *     (N in flight across ranges), marks the row done (UpdateItem) and deletes the message, and
 *     exits when it has done as many ranges as it was told to expect: a floor under that design.
 *
 * Usage: node copy-floor-client.js '<json FloorConfig>'
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import pLimit from 'p-limit';
import { canonicalQuery, SigV4Signer } from '../../shared/sigv4.js';

interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

interface FloorConfig {
  role: 'copy' | 'plan' | 'work';
  s3: { endpoint: string; region: string } & Credentials;
  from: string;
  to: string;
  inFlight: number;
  /** plan and work: the queue and table (created by the harness) and the range size */
  state?: { sqs: string; dynamodb: string; region: string; queueUrl: string; table: string } & Credentials;
  rangeKeys?: number;
  /** work: the ranges to do before exiting */
  ranges?: number;
}

interface Answer {
  status: number;
  body: string;
}

const cfg = JSON.parse(process.argv[2] ?? '{}') as FloorConfig;
const agent = new http.Agent({ keepAlive: true, maxSockets: cfg.inFlight + 8 });

/** One signed request to `endpoint`; the body, when there is one, is hashed into the signature. */
function signedRequest(
  endpoint: URL,
  signer: SigV4Signer,
  creds: Credentials,
  req: { method: string; path: string; query?: Record<string, string>; headers: Record<string, string>; body?: string },
): Promise<Answer> {
  const payloadHash = req.body === undefined ? 'UNSIGNED-PAYLOAD' : createHash('sha256').update(req.body).digest('hex');
  const signed = signer.sign(
    {
      method: req.method,
      host: endpoint.host,
      path: req.path,
      query: req.query,
      headers: { 'x-amz-content-sha256': payloadHash, ...req.headers },
    },
    creds,
  );
  const qs = canonicalQuery(req.query);
  return new Promise((resolve, reject) => {
    const r = http.request(
      {
        hostname: endpoint.hostname,
        port: endpoint.port,
        method: req.method,
        path: qs ? `${req.path}?${qs}` : req.path,
        headers: signed,
        agent,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    r.on('error', reject);
    r.end(req.body);
  });
}

const s3Endpoint = new URL(cfg.s3.endpoint);
const s3Signer = new SigV4Signer({ service: 's3', region: cfg.s3.region, credentials: cfg.s3 });
const s3 = (req: Parameters<typeof signedRequest>[3]) => signedRequest(s3Endpoint, s3Signer, cfg.s3, req);

/** An AWS JSON 1.0 call (SQS, DynamoDB): the answer's JSON, or a thrown error naming the action. */
function jsonCall(service: 'sqs' | 'dynamodb'): (action: string, input: object) => Promise<Record<string, unknown>> {
  const state = cfg.state!;
  const endpoint = new URL(state[service]);
  const signer = new SigV4Signer({ service, region: state.region, credentials: state });
  const prefix = service === 'sqs' ? 'AmazonSQS' : 'DynamoDB_20120810';
  return async (action, input) => {
    const { status, body } = await signedRequest(endpoint, signer, state, {
      method: 'POST',
      path: '/',
      headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': `${prefix}.${action}` },
      body: JSON.stringify(input),
    });
    if (status !== 200) throw new Error(`${action}: HTTP ${status} ${body.slice(0, 200)}`);
    return JSON.parse(body || '{}') as Record<string, unknown>;
  };
}

const unescapeXml = (s: string) =>
  s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');
const encodeKey = (key: string) => key.split('/').map(encodeURIComponent).join('/');

async function listKeys(bucket: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const query: Record<string, string> = { 'list-type': '2', 'max-keys': '1000' };
    if (token) query['continuation-token'] = token;
    const { status, body } = await s3({ method: 'GET', path: `/${bucket}`, query, headers: {} });
    if (status !== 200) throw new Error(`ListObjectsV2 ${bucket}: HTTP ${status}`);
    for (const m of body.matchAll(/<Key>([^<]*)<\/Key>/g)) keys.push(unescapeXml(m[1]!));
    const next = /<NextContinuationToken>([^<]*)<\/NextContinuationToken>/.exec(body)?.[1];
    token = next === undefined ? undefined : unescapeXml(next);
  } while (token);
  return keys;
}

async function copyKey(key: string): Promise<void> {
  const { status } = await s3({
    method: 'PUT',
    path: `/${cfg.to}/${encodeKey(key)}`,
    headers: { 'x-amz-copy-source': `/${cfg.from}/${encodeKey(key)}`, 'content-length': '0' },
  });
  if (status !== 200) throw new Error(`CopyObject ${key}: HTTP ${status}`);
}

async function copyAll(): Promise<number> {
  const keys = await listKeys(cfg.from);
  const limit = pLimit(cfg.inFlight);
  await Promise.all(keys.map((k) => limit(() => copyKey(k))));
  return keys.length;
}

async function plan(): Promise<number> {
  const sqs = jsonCall('sqs');
  const ddb = jsonCall('dynamodb');
  const keys = await listKeys(cfg.from);
  const size = cfg.rangeKeys ?? 500;
  const ranges: string[][] = [];
  for (let i = 0; i < keys.length; i += size) ranges.push(keys.slice(i, i + size));
  await Promise.all(
    ranges.map((_, i) =>
      ddb('PutItem', { TableName: cfg.state!.table, Item: { pk: { S: `range#${i}` }, status: { S: 'pending' } } }),
    ),
  );
  for (let i = 0; i < ranges.length; i += 10) {
    const entries = ranges
      .slice(i, i + 10)
      .map((keysOf, j) => ({ Id: String(i + j), MessageBody: JSON.stringify({ range: i + j, keys: keysOf }) }));
    await sqs('SendMessageBatch', { QueueUrl: cfg.state!.queueUrl, Entries: entries });
  }
  return keys.length;
}

async function work(): Promise<number> {
  const sqs = jsonCall('sqs');
  const ddb = jsonCall('dynamodb');
  const limit = pLimit(cfg.inFlight);
  const table = cfg.state!.table;
  let done = 0;
  let copied = 0;
  const ranges: Array<Promise<void>> = [];
  const doRange = async (message: { Body: string; ReceiptHandle: string }) => {
    const { range, keys } = JSON.parse(message.Body) as { range: number; keys: string[] };
    const key = { pk: { S: `range#${range}` } };
    await ddb('UpdateItem', {
      TableName: table,
      Key: key,
      UpdateExpression: 'SET #s = :running',
      ConditionExpression: '#s = :pending',
      ExpressionAttributeNames: { '#s': 'status' },
      ExpressionAttributeValues: { ':running': { S: 'running' }, ':pending': { S: 'pending' } },
    });
    await Promise.all(keys.map((k) => limit(() => copyKey(k))));
    await ddb('UpdateItem', {
      TableName: table,
      Key: key,
      UpdateExpression: 'SET #s = :done, copied = :n',
      ExpressionAttributeNames: { '#s': 'status' },
      ExpressionAttributeValues: { ':done': { S: 'done' }, ':n': { N: String(keys.length) } },
    });
    await sqs('DeleteMessage', { QueueUrl: cfg.state!.queueUrl, ReceiptHandle: message.ReceiptHandle });
    copied += keys.length;
    done++;
  };
  let received = 0;
  while (received < cfg.ranges!) {
    const out = await sqs('ReceiveMessage', {
      QueueUrl: cfg.state!.queueUrl,
      MaxNumberOfMessages: 10,
      WaitTimeSeconds: 1,
    });
    const messages = (out.Messages ?? []) as Array<{ Body: string; ReceiptHandle: string }>;
    received += messages.length;
    for (const m of messages) ranges.push(doRange(m));
  }
  await Promise.all(ranges);
  if (done !== cfg.ranges) throw new Error(`did ${done} ranges, expected ${cfg.ranges}`);
  return copied;
}

const count = await (cfg.role === 'copy' ? copyAll() : cfg.role === 'plan' ? plan() : work());
agent.destroy();
process.stdout.write(`${JSON.stringify({ role: cfg.role, objects: count })}\n`);
