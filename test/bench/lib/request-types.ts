/**
 * What a request to S3, SQS or DynamoDB is, told from what a proxy sees (method, path + query,
 * headers, and for the JSON protocols the first bytes of the body), and how AWS bills it. Pure:
 * the counting proxy (counting-proxy.ts) calls these, and prices.ts turns the units into dollars.
 *
 * S3 requests are path-style (every tool in bench:s3 is configured so): `/bucket/key?query`.
 *
 * Billing, as AWS's price pages say it (see prices.ts for the figures and sources):
 *  - S3 Standard: PUT, COPY, POST and LIST requests in one class, GET and "all other requests"
 *    (HEAD included) in a cheaper one; DELETE and CANCEL (abort multipart) requests are free;
 *    5xx responses are not billed.
 *  - SQS: every API action is a request, and each 64 KiB chunk of a payload is one more.
 *  - DynamoDB on demand: writes in write request units (1 per KiB of item, 2 in a transaction),
 *    reads in read request units (1 per 4 KiB strongly consistent, half eventually consistent,
 *    2 in a transaction); control-plane calls (DescribeTable, ...) are not billed per request.
 */

export type Service = 's3' | 'sqs' | 'dynamodb';

/** How one request is billed. */
export type BillingClass =
  | 's3-tier1' // PUT, COPY, POST, LIST
  | 's3-tier2' // GET, HEAD and all other requests
  | 's3-free' // DELETE, abort multipart
  | 'sqs'
  | 'dynamodb-write'
  | 'dynamodb-read'
  | 'free';

export type Headers = Record<string, string | string[] | undefined>;

function header(headers: Headers, name: string): string | undefined {
  const v = headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

/** Query parameters of a bucket or object request that make it a configuration call, not data. */
const BUCKET_SUBRESOURCES = [
  'accelerate',
  'acl',
  'analytics',
  'cors',
  'encryption',
  'intelligent-tiering',
  'inventory',
  'lifecycle',
  'logging',
  'metrics',
  'notification',
  'object-lock',
  'ownershipControls',
  'policy',
  'policyStatus',
  'publicAccessBlock',
  'replication',
  'requestPayment',
  'tagging',
  'versioning',
  'website',
];
const OBJECT_SUBRESOURCES = ['acl', 'attributes', 'legal-hold', 'restore', 'retention', 'select', 'tagging', 'torrent'];

/**
 * The S3 API action of a path-style request: GetObject, PutObject, HeadObject, ListObjectsV2,
 * CopyObject (a PUT with x-amz-copy-source), CreateMultipartUpload, UploadPart, UploadPartCopy,
 * CompleteMultipartUpload, DeleteObject(s), ...; anything else is `other:<METHOD>`.
 */
export function classifyS3(method: string, pathAndQuery: string, headers: Headers): string {
  const m = method.toUpperCase();
  const q = pathAndQuery.indexOf('?');
  const pathname = q < 0 ? pathAndQuery : pathAndQuery.slice(0, q);
  const params = new URLSearchParams(q < 0 ? '' : pathAndQuery.slice(q + 1));
  const segments = pathname.split('/').filter(Boolean);
  const other = `other:${m}`;
  if (segments.length === 0) return m === 'GET' ? 'ListBuckets' : other;
  if (segments.length === 1) {
    const config = BUCKET_SUBRESOURCES.some((p) => params.has(p));
    switch (m) {
      case 'GET':
        if (params.get('list-type') === '2') return 'ListObjectsV2';
        if (params.has('uploads')) return 'ListMultipartUploads';
        if (params.has('versions')) return 'ListObjectVersions';
        if (params.has('location')) return 'GetBucketLocation';
        return config ? other : 'ListObjects';
      case 'HEAD':
        return 'HeadBucket';
      case 'PUT':
        return config ? other : 'CreateBucket';
      case 'POST':
        return params.has('delete') ? 'DeleteObjects' : other;
      case 'DELETE':
        return config ? other : 'DeleteBucket';
      default:
        return other;
    }
  }
  if (OBJECT_SUBRESOURCES.some((p) => params.has(p))) return other;
  const copy = header(headers, 'x-amz-copy-source') !== undefined;
  switch (m) {
    case 'GET':
      return params.has('uploadId') ? 'ListParts' : 'GetObject';
    case 'HEAD':
      return 'HeadObject';
    case 'PUT':
      if (params.has('partNumber') && params.has('uploadId')) return copy ? 'UploadPartCopy' : 'UploadPart';
      return copy ? 'CopyObject' : 'PutObject';
    case 'POST':
      if (params.has('uploads')) return 'CreateMultipartUpload';
      if (params.has('uploadId')) return 'CompleteMultipartUpload';
      return other;
    case 'DELETE':
      return params.has('uploadId') ? 'AbortMultipartUpload' : 'DeleteObject';
    default:
      return other;
  }
}

/**
 * The SQS action: `X-Amz-Target: AmazonSQS.<Action>` (JSON protocol, what the AWS SDK v3 sends),
 * or `Action=` in the query string or in a form-encoded body (the older query protocol).
 */
export function classifySqs(pathAndQuery: string, headers: Headers, bodyStart = ''): string {
  const target = header(headers, 'x-amz-target');
  if (target) return target.replace(/^AmazonSQS\./, '');
  const q = pathAndQuery.indexOf('?');
  const fromQuery = q < 0 ? null : new URLSearchParams(pathAndQuery.slice(q + 1)).get('Action');
  if (fromQuery) return fromQuery;
  if ((header(headers, 'content-type') ?? '').startsWith('application/x-www-form-urlencoded')) {
    const action = /(?:^|&)Action=([A-Za-z]+)/.exec(bodyStart);
    if (action) return action[1]!;
  }
  return 'other';
}

/** The DynamoDB action: `X-Amz-Target: DynamoDB_20120810.<Action>`. */
export function classifyDynamo(headers: Headers): string {
  const target = header(headers, 'x-amz-target');
  return target ? target.replace(/^DynamoDB_\d+\./, '') : 'other';
}

/** Whether the service's action is known only once the body has started (SQS query protocol). */
export function needsBodyToClassify(service: Service, method: string, pathAndQuery: string, headers: Headers): boolean {
  return service === 'sqs' && method.toUpperCase() === 'POST' && classifySqs(pathAndQuery, headers) === 'other';
}

export function classify(
  service: Service,
  method: string,
  pathAndQuery: string,
  headers: Headers,
  bodyStart = '',
): string {
  switch (service) {
    case 's3':
      return classifyS3(method, pathAndQuery, headers);
    case 'sqs':
      return classifySqs(pathAndQuery, headers, bodyStart);
    case 'dynamodb':
      return classifyDynamo(headers);
  }
}

const S3_TIER1 = new Set([
  'PutObject',
  'CopyObject',
  'CreateMultipartUpload',
  'UploadPart',
  'UploadPartCopy',
  'CompleteMultipartUpload',
  'ListObjectsV2',
  'ListObjects',
  'ListObjectVersions',
  'ListParts',
  'ListMultipartUploads',
  'ListBuckets',
  'CreateBucket',
  'other:PUT',
  'other:POST',
]);
const S3_FREE = new Set(['DeleteObject', 'DeleteObjects', 'AbortMultipartUpload', 'DeleteBucket', 'other:DELETE']);

const DYNAMO_WRITES = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem', 'TransactWriteItems']);
const DYNAMO_READS = new Set(['GetItem', 'BatchGetItem', 'Query', 'Scan', 'TransactGetItems']);

export function billingClass(service: Service, action: string): BillingClass {
  switch (service) {
    case 's3':
      return S3_TIER1.has(action) ? 's3-tier1' : S3_FREE.has(action) ? 's3-free' : 's3-tier2';
    case 'sqs':
      return 'sqs';
    case 'dynamodb':
      return DYNAMO_WRITES.has(action) ? 'dynamodb-write' : DYNAMO_READS.has(action) ? 'dynamodb-read' : 'free';
  }
}

/** Object-writing S3 actions: one per object copied (the steady-state rate counts these). */
export function writesObject(action: string): boolean {
  return action === 'PutObject' || action === 'CopyObject' || action === 'CompleteMultipartUpload';
}

export const SQS_CHUNK_BYTES = 64 * 1024;

/** Billed SQS requests for one call: one per started 64 KiB of the larger of request and response. */
export function sqsUnits(requestBytes: number, responseBytes: number): number {
  return Math.max(1, Math.ceil(Math.max(requestBytes, responseBytes) / SQS_CHUNK_BYTES));
}

type AttributeValue = Record<string, unknown>;

/**
 * DynamoDB's size of an attribute value (bytes), by its documented rules: strings by UTF-8 length,
 * numbers about one byte per two digits plus one, binary by decoded length, 1 for booleans and
 * null, 3 plus one per element (and the names of a map's keys) for lists and maps.
 */
export function attributeValueSize(value: unknown): number {
  if (!value || typeof value !== 'object') return 0;
  const v = value as AttributeValue;
  if (typeof v.S === 'string') return Buffer.byteLength(v.S);
  if (typeof v.N === 'string') return numberSize(v.N);
  if (typeof v.B === 'string') return Buffer.from(v.B, 'base64').length;
  if ('BOOL' in v || 'NULL' in v) return 1;
  if (Array.isArray(v.SS)) return (v.SS as string[]).reduce((n, s) => n + Buffer.byteLength(s), 0);
  if (Array.isArray(v.NS)) return (v.NS as string[]).reduce((n, s) => n + numberSize(s), 0);
  if (Array.isArray(v.BS)) return (v.BS as string[]).reduce((n, s) => n + Buffer.from(s, 'base64').length, 0);
  if (Array.isArray(v.L)) return 3 + (v.L as unknown[]).reduce<number>((n, e) => n + 1 + attributeValueSize(e), 0);
  if (v.M && typeof v.M === 'object') {
    return (
      3 +
      Object.entries(v.M as Record<string, unknown>).reduce(
        (n, [k, e]) => n + 1 + Buffer.byteLength(k) + attributeValueSize(e),
        0,
      )
    );
  }
  return 0;
}

function numberSize(n: string): number {
  const digits = n
    .replace(/^[-+]/, '')
    .replace(/[eE].*$/, '')
    .replace('.', '')
    .replace(/^0+/, '');
  return Math.ceil(Math.max(digits.length, 1) / 2) + 1;
}

/** DynamoDB's size of an item (attribute names + values), bytes. */
export function itemSize(item: unknown): number {
  if (!item || typeof item !== 'object') return 0;
  return Object.entries(item as Record<string, unknown>).reduce(
    (n, [k, v]) => n + Buffer.byteLength(k) + attributeValueSize(v),
    0,
  );
}

const KiB = 1024;
const writeUnits = (bytes: number) => Math.max(1, Math.ceil(bytes / KiB));
const readUnits = (bytes: number, consistent: boolean) =>
  Math.max(1, Math.ceil(bytes / (4 * KiB))) * (consistent ? 1 : 0.5);

/**
 * DynamoDB request units of one call, estimated from its request body and the size of its
 * response (the proxy cannot see the stored item):
 *  - PutItem: 1 WRU per started KiB of the item sent; UpdateItem, DeleteItem: 1 per started KiB
 *    of the key and values sent (at least 1: the stored item's size is not visible);
 *  - BatchWriteItem: that per put or delete; TransactWriteItems: twice that per action;
 *  - GetItem, Query, Scan: 1 RRU per started 4 KiB of the response (half when not
 *    ConsistentRead), at least one unit; BatchGetItem: at least one unit per key asked for;
 *    TransactGetItems: 2 per item;
 *  - anything else: 0 (not billed per request).
 * A body that is not JSON (cut off, or empty) counts as one unit.
 */
export function dynamoUnits(action: string, body: string, responseBytes: number): number {
  const cls = billingClass('dynamodb', action);
  if (cls === 'free') return 0;
  let req: Record<string, unknown>;
  try {
    req = JSON.parse(body) as Record<string, unknown>;
  } catch {
    return 1;
  }
  const consistent = req.ConsistentRead === true;
  const valuesSize = (r: Record<string, unknown>) =>
    itemSize(r.Key) + itemSize(r.ExpressionAttributeValues as Record<string, unknown> | undefined);
  switch (action) {
    case 'PutItem':
      return writeUnits(itemSize(req.Item));
    case 'UpdateItem':
    case 'DeleteItem':
      return writeUnits(valuesSize(req));
    case 'BatchWriteItem': {
      let units = 0;
      for (const requests of Object.values((req.RequestItems ?? {}) as Record<string, unknown[]>)) {
        for (const r of requests as Array<{ PutRequest?: { Item: unknown }; DeleteRequest?: unknown }>)
          units += r.PutRequest ? writeUnits(itemSize(r.PutRequest.Item)) : 1;
      }
      return Math.max(units, 1);
    }
    case 'TransactWriteItems': {
      let units = 0;
      for (const t of (req.TransactItems ?? []) as Array<Record<string, Record<string, unknown>>>) {
        if (t.Put) units += 2 * writeUnits(itemSize(t.Put.Item));
        else if (t.Update) units += 2 * writeUnits(valuesSize(t.Update));
        else units += 2;
      }
      return Math.max(units, 2);
    }
    case 'GetItem':
    case 'Query':
    case 'Scan':
      return readUnits(responseBytes, consistent);
    case 'BatchGetItem': {
      let units = 0;
      for (const t of Object.values(
        (req.RequestItems ?? {}) as Record<string, { Keys?: unknown[]; ConsistentRead?: boolean }>,
      ))
        units += (t.Keys?.length ?? 1) * (t.ConsistentRead ? 1 : 0.5);
      return Math.max(units, readUnits(responseBytes, false));
    }
    case 'TransactGetItems':
      return 2 * Math.max(1, ((req.TransactItems ?? []) as unknown[]).length);
    default:
      return 1;
  }
}

/** Billed units of one answered request (0 for a 5xx or no answer: AWS bills neither). */
export function billedUnits(
  service: Service,
  action: string,
  status: number,
  requestBytes: number,
  responseBytes: number,
  body: string,
): number {
  if (status === 0 || status >= 500) return 0;
  switch (service) {
    case 's3':
      return billingClass('s3', action) === 's3-free' ? 0 : 1;
    case 'sqs':
      return sqsUnits(requestBytes, responseBytes);
    case 'dynamodb':
      return dynamoUnits(action, body, responseBytes);
  }
}
