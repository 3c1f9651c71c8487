/**
 * Requests per object and their price (`npm run test:bench-lib`): classifying S3, SQS and DynamoDB
 * requests from what a proxy sees, billed units, dollars per million objects, the counting proxy
 * itself against a small local upstream, the steady-state rate and case (e)'s sizing, and the
 * bench:s3 command line's refusals (run as an operator types it, from dist/).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StackFile } from '../../../shared/config.js';
import { proxiedStack } from './bench-proxies.js';
import { CountingProxy, forwardHeaders, type ProxyStats } from './counting-proxy.js';
import { dollarsPerMillionObjects, perUnit, PRICES, requestsByAction, unitPrice } from './prices.js';
import {
  billedUnits,
  billingClass,
  classifyDynamo,
  classifyS3,
  classifySqs,
  dynamoUnits,
  itemSize,
  sqsUnits,
} from './request-types.js';
import {
  addRatios,
  bestRclone,
  checkCostTargets,
  checkTargets,
  formatMarkdown,
  formatTable,
  requestFigures,
  toolResult,
  type ToolEntry,
  type ToolName,
} from './results.js';
import { MAX_STEADY_OBJECTS, steadyCaseCount, steadyRate } from './steady.js';

describe('S3 request types', () => {
  const none = {};
  const copy = { 'x-amz-copy-source': '/src/k' };
  it.each([
    ['GET', '/b/k/x.bin?x-id=GetObject', none, 'GetObject'],
    ['GET', '/b/k', { range: 'bytes=0-9' }, 'GetObject'],
    ['PUT', '/b/k?x-id=PutObject', none, 'PutObject'],
    ['PUT', '/b/k', copy, 'CopyObject'],
    ['HEAD', '/b/k', none, 'HeadObject'],
    ['HEAD', '/b', none, 'HeadBucket'],
    ['GET', '/b?list-type=2&prefix=a%2F&max-keys=1000', none, 'ListObjectsV2'],
    ['GET', '/b?prefix=a&marker=x', none, 'ListObjects'],
    ['GET', '/b/', none, 'ListObjects'],
    ['GET', '/b?location', none, 'GetBucketLocation'],
    ['GET', '/b?uploads', none, 'ListMultipartUploads'],
    ['GET', '/', none, 'ListBuckets'],
    ['POST', '/b/k?uploads', none, 'CreateMultipartUpload'],
    ['PUT', '/b/k?partNumber=2&uploadId=u', none, 'UploadPart'],
    ['PUT', '/b/k?partNumber=2&uploadId=u', copy, 'UploadPartCopy'],
    ['POST', '/b/k?uploadId=u', none, 'CompleteMultipartUpload'],
    ['DELETE', '/b/k?uploadId=u', none, 'AbortMultipartUpload'],
    ['GET', '/b/k?uploadId=u', none, 'ListParts'],
    ['DELETE', '/b/k', none, 'DeleteObject'],
    ['POST', '/b?delete', none, 'DeleteObjects'],
    ['PUT', '/b', none, 'CreateBucket'],
    ['DELETE', '/b', none, 'DeleteBucket'],
    ['PUT', '/b?versioning', none, 'other:PUT'],
    ['GET', '/b/k?tagging', none, 'other:GET'],
    ['PUT', '/b/k?tagging', none, 'other:PUT'],
    ['OPTIONS', '/b/k', none, 'other:OPTIONS'],
  ])('%s %s -> %s', (method, url, headers, want) => {
    expect(classifyS3(method, url, headers as Record<string, string>)).toBe(want);
  });
  it('keeps deep keys on the object, not the bucket', () => {
    expect(classifyS3('PUT', '/b/a/b/c/d.bin', {})).toBe('PutObject');
  });
});

describe('SQS and DynamoDB request types', () => {
  it('reads the JSON protocol target', () => {
    expect(classifySqs('/', { 'x-amz-target': 'AmazonSQS.ReceiveMessage' })).toBe('ReceiveMessage');
    expect(classifyDynamo({ 'x-amz-target': 'DynamoDB_20120810.UpdateItem' })).toBe('UpdateItem');
    expect(classifyDynamo({})).toBe('other');
  });
  it('reads the query protocol action from the query string or a form body', () => {
    expect(classifySqs('/000/q?Action=SendMessage&MessageBody=x', {})).toBe('SendMessage');
    const form = { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' };
    expect(classifySqs('/000/q', form, 'Version=2012-11-05&Action=DeleteMessageBatch&Q')).toBe('DeleteMessageBatch');
    expect(classifySqs('/000/q', {}, 'Action=SendMessage')).toBe('other');
  });
});

describe('billing', () => {
  it('puts each request in its price class', () => {
    expect(billingClass('s3', 'PutObject')).toBe('s3-tier1');
    expect(billingClass('s3', 'CopyObject')).toBe('s3-tier1');
    expect(billingClass('s3', 'ListObjectsV2')).toBe('s3-tier1');
    expect(billingClass('s3', 'CompleteMultipartUpload')).toBe('s3-tier1');
    expect(billingClass('s3', 'GetObject')).toBe('s3-tier2');
    expect(billingClass('s3', 'HeadObject')).toBe('s3-tier2');
    expect(billingClass('s3', 'other:GET')).toBe('s3-tier2');
    expect(billingClass('s3', 'DeleteObjects')).toBe('s3-free');
    expect(billingClass('s3', 'AbortMultipartUpload')).toBe('s3-free');
    expect(billingClass('dynamodb', 'TransactWriteItems')).toBe('dynamodb-write');
    expect(billingClass('dynamodb', 'Query')).toBe('dynamodb-read');
    expect(billingClass('dynamodb', 'DescribeTable')).toBe('free');
  });
  it('bills no 5xx and no unanswered request, and no delete', () => {
    expect(billedUnits('s3', 'GetObject', 200, 0, 10, '')).toBe(1);
    expect(billedUnits('s3', 'GetObject', 404, 0, 10, '')).toBe(1);
    expect(billedUnits('s3', 'PutObject', 503, 10, 0, '')).toBe(0);
    expect(billedUnits('s3', 'PutObject', 0, 10, 0, '')).toBe(0);
    expect(billedUnits('s3', 'DeleteObject', 204, 0, 0, '')).toBe(0);
  });
  it('counts one SQS request per started 64 KiB of the larger payload', () => {
    expect(sqsUnits(0, 0)).toBe(1);
    expect(sqsUnits(65536, 10)).toBe(1);
    expect(sqsUnits(65537, 10)).toBe(2);
    expect(sqsUnits(100, 256 * 1024)).toBe(4);
  });
  it('sizes DynamoDB items by attribute names and values', () => {
    expect(itemSize({ pk: { S: 'abc' } })).toBe(5);
    expect(itemSize({ n: { N: '12345' } })).toBe(1 + 4);
    expect(itemSize({ b: { B: Buffer.alloc(10).toString('base64') } })).toBe(11);
    expect(itemSize({ m: { M: { k: { S: 'v' } } } })).toBe(1 + 3 + 1 + 1 + 1);
    expect(itemSize({ l: { L: [{ BOOL: true }, { NULL: true }] } })).toBe(1 + 3 + 2 + 2);
  });
  it('estimates DynamoDB request units', () => {
    const big = JSON.stringify({ Item: { pk: { S: 'k' }, body: { S: 'x'.repeat(2000) } } });
    expect(dynamoUnits('PutItem', big, 2)).toBe(2);
    expect(dynamoUnits('PutItem', JSON.stringify({ Item: { pk: { S: 'k' } } }), 2)).toBe(1);
    expect(
      dynamoUnits(
        'UpdateItem',
        JSON.stringify({ Key: { pk: { S: 'k' } }, ExpressionAttributeValues: { ':s': { S: 'done' } } }),
        2,
      ),
    ).toBe(1);
    const batch = {
      RequestItems: {
        t: [
          { PutRequest: { Item: { pk: { S: 'a' } } } },
          { DeleteRequest: { Key: {} } },
          { PutRequest: { Item: { pk: { S: 'b' } } } },
        ],
      },
    };
    expect(dynamoUnits('BatchWriteItem', JSON.stringify(batch), 2)).toBe(3);
    const tx = {
      TransactItems: [
        { Put: { Item: { pk: { S: 'a' } } } },
        { Update: { Key: { pk: { S: 'b' } } } },
        { ConditionCheck: {} },
      ],
    };
    expect(dynamoUnits('TransactWriteItems', JSON.stringify(tx), 2)).toBe(6);
    expect(dynamoUnits('GetItem', JSON.stringify({ Key: {} }), 100)).toBe(0.5);
    expect(dynamoUnits('GetItem', JSON.stringify({ Key: {}, ConsistentRead: true }), 100)).toBe(1);
    expect(dynamoUnits('Query', JSON.stringify({ ConsistentRead: true }), 9000)).toBe(3);
    expect(dynamoUnits('BatchGetItem', JSON.stringify({ RequestItems: { t: { Keys: [{}, {}, {}, {}] } } }), 10)).toBe(
      2,
    );
    expect(dynamoUnits('TransactGetItems', JSON.stringify({ TransactItems: [{}, {}] }), 10)).toBe(4);
    expect(dynamoUnits('DescribeTable', '{}', 10)).toBe(0);
    expect(dynamoUnits('PutItem', '{"Item": {"pk"', 10)).toBe(1);
  });
});

const stats = (
  name: string,
  service: ProxyStats['service'],
  actions: Record<string, [number, number]>,
): ProxyStats => ({
  name,
  service,
  connections: 1,
  actions: Object.fromEntries(
    Object.entries(actions).map(([a, [requests, units]]) => [
      a,
      {
        requests,
        units,
        status4xx: 0,
        failed: 0,
        request_bytes: 0,
        response_bytes: 0,
        billing: billingClass(service, a),
      },
    ]),
  ),
});

describe('prices', () => {
  it('uses the list prices of the docs table', () => {
    expect(PRICES).toMatchObject({
      region: 'us-east-1',
      s3Tier1PerThousand: 0.005,
      s3Tier2PerThousand: 0.0004,
      sqsPerMillion: 0.4,
      dynamoWruPerMillion: 0.625,
      dynamoRruPerMillion: 0.125,
    });
    expect(unitPrice('s3-free')).toBe(0);
    expect(unitPrice('free')).toBe(0);
  });
  it('prices one GET and one PUT per object at $5.40 per million objects', () => {
    const run = [
      stats('s3:minio', 's3', { GetObject: [1000, 1000] }),
      stats('s3:local', 's3', { PutObject: [1000, 1000] }),
    ];
    expect(dollarsPerMillionObjects(run, 1000)).toEqual({ s3: 5.4, sqs: 0, dynamodb: 0, total: 5.4 });
  });
  it('adds SQS and DynamoDB units, scaled to a million objects', () => {
    const run = [
      stats('s3:minio', 's3', { GetObject: [500, 500], ListObjectsV2: [1, 1], DeleteObjects: [3, 0] }),
      stats('s3:local', 's3', { CopyObject: [500, 500] }),
      stats('sqs', 'sqs', { ReceiveMessage: [10, 12], DeleteMessage: [5, 5] }),
      stats('dynamodb', 'dynamodb', { UpdateItem: [20, 40], Query: [2, 1], DescribeTable: [1, 0] }),
    ];
    // per object: GET 1 x 0.0000004 + (COPY 1 + LIST 0.002) x 0.000005; SQS 17/500; DynamoDB 40/500 WRU + 1/500 RRU
    const d = dollarsPerMillionObjects(run, 500);
    expect(d.s3).toBeCloseTo(5.41, 4);
    expect(d.sqs).toBeCloseTo(0.0136, 4);
    expect(d.dynamodb).toBeCloseTo(0.0503, 4);
    expect(d.total).toBeCloseTo(5.4739, 4);
  });
  it('gives requests per object by type, largest first', () => {
    const run = [
      stats('s3:minio', 's3', { GetObject: [100, 100], ListObjectsV2: [1, 1] }),
      stats('s3:local', 's3', { GetObject: [4, 4] }),
    ];
    expect(requestsByAction(run, 's3')).toEqual({ GetObject: 104, ListObjectsV2: 1 });
    expect(perUnit(requestsByAction(run, 's3'), 100)).toEqual({
      total: 1.05,
      by_type: { GetObject: 1.04, ListObjectsV2: 0.01 },
    });
  });
  it('puts the figures of a run in its result, per item for convoy', () => {
    const run = [
      stats('s3:minio', 's3', { GetObject: [1000, 1000] }),
      stats('s3:local', 's3', { PutObject: [1000, 1000] }),
      stats('sqs', 'sqs', { ReceiveMessage: [30, 30], SendMessageBatch: [1, 1] }),
      stats('dynamodb', 'dynamodb', { UpdateItem: [40, 40] }),
    ];
    const f = requestFigures(run, 1000, 10);
    expect(f).toMatchObject({
      s3_requests_per_object: 2,
      s3_requests_per_object_by_type: { GetObject: 1, PutObject: 1 },
      sqs_requests_per_item: 3.1,
      sqs_requests_per_item_by_type: { ReceiveMessage: 3, SendMessageBatch: 0.1 },
      dynamodb_requests_per_item: 4,
      sqs_requests_per_object: 0.031,
      dynamodb_requests_per_object: 0.04,
    });
    expect(f.usd_per_million_objects!.total).toBeCloseTo(5.4 + 0.0124 + 0.025, 4);
    const rclone = requestFigures(run.slice(0, 2), 1000);
    expect(rclone.sqs_requests_per_item).toBeUndefined();
    expect(rclone.sqs_requests_per_object).toBeUndefined();
  });
});

describe('results with request counts', () => {
  const run = (seconds: number, cpuS = 1, emulatorCpuS = 1) => ({
    seconds,
    peakRssKiB: 100 * 1024,
    cpuS,
    emulatorCpuS,
  });
  it('holds convoy against the fastest rclone, rclone256 included, and the steady rate in (e)', () => {
    const e: Partial<Record<ToolName, ToolEntry>> = {
      convoy: toolResult(1000, 1, run(2), { steady_objects_per_s: 900 }),
      rclone64: toolResult(1000, 1, run(1), { steady_objects_per_s: 1000 }),
      rclone256: toolResult(1000, 1, run(1.5), { steady_objects_per_s: 1200 }),
    };
    addRatios(e);
    expect(bestRclone(e)).toBe(e.rclone256);
    expect(e.convoy).toMatchObject({ ratio_vs_best_rclone: 0.5, steady_ratio_vs_best_rclone: 0.75 });
    const t = checkTargets({ e });
    expect(t[0]).toMatchObject({
      what: 'case e: convoy steady-state objects/s vs best rclone',
      measured: '0.75x',
      met: false,
    });
  });
  it('checks requests, endpoint CPU and CPU per object against the best rclone', () => {
    const counts = (perObject: number) =>
      requestFigures([stats('s3:local', 's3', { CopyObject: [perObject * 100, perObject * 100] })], 100);
    const c: Partial<Record<ToolName, ToolEntry>> = {
      convoy: toolResult(100, 1, run(1, 0.2, 0.105), counts(1.02)),
      rclone64: toolResult(100, 1, run(1, 0.1, 0.1), counts(1.01)),
    };
    addRatios(c);
    const t = checkCostTargets({ c, b: { convoy: toolResult(1, 1, run(1)) } });
    expect(t.map((x) => [x.what, x.met])).toEqual([
      ['case c: S3 requests per object vs best rclone', false],
      ['case c: endpoint CPU ms per object vs best rclone', true],
      ['case c: CPU ms per object vs best rclone', false],
    ]);
    // `convoy plan --work` beside it: its own rows
    const withWork = { ...c, 'convoy-work': toolResult(100, 1, run(1, 0.09, 0.1), counts(1.0)) };
    expect(
      checkCostTargets({ c: withWork })
        .filter((x) => x.what.includes('convoy-work'))
        .map((x) => [x.what, x.met]),
    ).toEqual([
      ['case c: convoy-work: S3 requests per object vs best rclone', true],
      ['case c: convoy-work: endpoint CPU ms per object vs best rclone', true],
      ['case c: convoy-work: CPU ms per object vs best rclone', true],
    ]);
    expect(t[0]!.measured).toBe('1.01x (1.02 vs 1.01)');
    const table = formatTable({ cases: { c }, case_info: {}, targets: t });
    expect(table).toContain('S3 requests/object 1.020: CopyObject 1.020');
    expect(table).toContain('$ per million objects (requests): S3 5.10 + SQS 0.00 + DynamoDB 0.00 = 5.10');
    expect(table).toContain('emu ms/obj');
    const md = formatMarkdown({ cases: { c }, case_info: {} });
    expect(md).toContain(
      '| convoy | 1.05 | - | 1.020 (CopyObject 1.020) | - | - | S3 5.10 + SQS 0.00 + DynamoDB 0.00 = 5.10 |',
    );
  });
});

describe('steady state', () => {
  it('rates the middle 80% of the writes', () => {
    // 10 writes at start-up 1 s apart, then 80 writes 10 ms apart, then a 10-write tail
    const t = [
      ...Array.from({ length: 10 }, (_, i) => i * 1000),
      ...Array.from({ length: 80 }, (_, i) => 10_000 + i * 10),
      ...Array.from({ length: 10 }, (_, i) => 20_000 + i * 1000),
    ];
    const r = steadyRate(t)!;
    expect(r.n).toBe(80);
    expect(r.perS).toBeCloseTo(79 / 0.79, 5);
    expect(steadyRate([1, 2, 3])).toBeUndefined();
  });
  it('sizes case (e) from the fastest calibration rate', () => {
    expect(steadyCaseCount([1000, 2500, Number.NaN], 60)).toEqual({ count: 180_000, capped: false });
    expect(steadyCaseCount([100], 5, 1)).toEqual({ count: 500, capped: false });
    expect(steadyCaseCount([10_000], 60)).toEqual({ count: MAX_STEADY_OBJECTS, capped: true });
    expect(() => steadyCaseCount([], 60)).toThrow(/no rate/);
  });
});

describe('proxied stack', () => {
  it('points every endpoint at its proxy and keeps the rest', () => {
    const stack = {
      pid: 7,
      startedAtMs: 1,
      state: {
        region: 'us-east-1',
        endpoints: { sqs: 'http://127.0.0.1:1', dynamodb: 'http://127.0.0.1:2' },
        itemsTable: 'i',
        metaTable: 'm',
        queueName: 'q',
        dlqName: 'd',
        queueUrl: 'http://sqs.us-east-1.localhost:1/0/q',
      },
      remotes: {
        local: { endpoint: 'http://127.0.0.1:1', region: 'us-east-1', dynamodbEndpoint: 'http://127.0.0.1:2' },
        minio: { endpoint: 'http://127.0.0.1:3', region: 'us-east-1' },
      },
      endpoints: {},
    } as StackFile;
    const p = proxiedStack(
      stack,
      { local: 'http://127.0.0.1:11', minio: 'http://127.0.0.1:13' },
      'http://127.0.0.1:21',
      'http://127.0.0.1:22',
    );
    expect(p.state.endpoints).toEqual({ sqs: 'http://127.0.0.1:21', dynamodb: 'http://127.0.0.1:22' });
    expect(p.remotes.local).toMatchObject({ endpoint: 'http://127.0.0.1:11', dynamodbEndpoint: 'http://127.0.0.1:22' });
    expect(p.remotes.minio!.endpoint).toBe('http://127.0.0.1:13');
    expect(p.pid).toBe(7);
    expect(p.state.queueUrl).toBe(stack.state.queueUrl);
    expect(stack.remotes.local!.endpoint).toBe('http://127.0.0.1:1');
  });
});

describe('counting proxy', () => {
  let upstream: http.Server;
  let upstreamUrl = '';
  const seen: Array<{ method: string; url: string; headers: http.IncomingHttpHeaders; bytes: number }> = [];
  beforeAll(async () => {
    upstream = http.createServer((req, res) => {
      let bytes = 0;
      req.on('data', (c: Buffer) => (bytes += c.length));
      req.on('end', () => {
        seen.push({ method: req.method!, url: req.url!, headers: req.headers, bytes });
        if (req.url === '/fail') {
          res.writeHead(503).end('slow down');
          return;
        }
        if (req.url?.startsWith('/b/missing')) {
          res.writeHead(404, { 'content-type': 'application/xml' }).end('<Error/>');
          return;
        }
        const body = req.method === 'GET' || req.method === 'HEAD' ? Buffer.alloc(100_000, 7) : Buffer.from('{}');
        res.writeHead(200, { 'content-length': String(body.length), etag: '"e"' });
        res.end(req.method === 'HEAD' ? undefined : body);
      });
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
    upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => upstream.close(() => r())));

  const send = (
    url: string,
    method: string,
    headers: Record<string, string> = {},
    body?: Buffer | string,
    agent?: http.Agent,
  ): Promise<{ status: number; body: Buffer; headers: http.IncomingHttpHeaders }> =>
    new Promise((resolve, reject) => {
      const req = http.request(url, { method, headers, agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks), headers: res.headers }));
      });
      req.on('error', reject);
      req.end(body);
    });

  it('passes requests through and counts them by type, status and bytes', async () => {
    const proxy = await new CountingProxy({ name: 's3:test', service: 's3', upstream: upstreamUrl }).start();
    try {
      const agent = new http.Agent({ keepAlive: true });
      const put = await send(
        `${proxy.url}/b/k1`,
        'PUT',
        { host: 'bucket-host:9', 'content-length': '5000' },
        Buffer.alloc(5000, 1),
        agent,
      );
      expect(put.status).toBe(200);
      expect(seen.at(-1)).toMatchObject({ method: 'PUT', url: '/b/k1', bytes: 5000 });
      expect(seen.at(-1)!.headers.host).toBe('bucket-host:9');
      // a chunked upload with Expect: 100-continue is answered by the proxy and streamed through
      const chunked = await send(
        `${proxy.url}/b/k2`,
        'PUT',
        { expect: '100-continue', 'transfer-encoding': 'chunked' },
        Buffer.alloc(70_000, 2),
        agent,
      );
      expect(chunked.status).toBe(200);
      expect(seen.at(-1)!.bytes).toBe(70_000);
      expect(seen.at(-1)!.headers.expect).toBeUndefined();
      await send(`${proxy.url}/b/k3`, 'PUT', { 'x-amz-copy-source': '/a/k3', 'content-length': '0' }, '', agent);
      const get = await send(`${proxy.url}/b/k1`, 'GET', {}, undefined, agent);
      expect(get.body.length).toBe(100_000);
      expect(get.headers.etag).toBe('"e"');
      const head = await send(`${proxy.url}/b/k1`, 'HEAD', {}, undefined, agent);
      expect(head.headers['content-length']).toBe('100000');
      expect((await send(`${proxy.url}/fail`, 'GET', {}, undefined, agent)).status).toBe(503);
      await send(`${proxy.url}/b?list-type=2`, 'GET', {}, undefined, agent);
      // last: node's client opens a new connection after a HEAD answer without Content-Length
      expect((await send(`${proxy.url}/b/missing`, 'HEAD', {}, undefined, agent)).status).toBe(404);
      agent.destroy();
      const s = proxy.stats();
      expect(s.connections).toBe(1); // keep-alive holds through the proxy
      expect(Object.fromEntries(Object.entries(s.actions).map(([k, v]) => [k, v.requests]))).toEqual({
        CopyObject: 1,
        GetObject: 1,
        HeadObject: 2,
        ListObjects: 1,
        ListObjectsV2: 1,
        PutObject: 2,
      });
      expect(s.actions.PutObject).toMatchObject({ request_bytes: 75_000, units: 2, billing: 's3-tier1' });
      expect(s.actions.GetObject!.response_bytes).toBe(100_000);
      expect(s.actions.HeadObject).toMatchObject({ status4xx: 1, units: 2 });
      expect(s.actions.ListObjects).toMatchObject({ failed: 1, units: 0 });
      expect(proxy.objectWriteTimes()).toHaveLength(3);
      proxy.reset();
      expect(proxy.stats().actions).toEqual({});
    } finally {
      await proxy.close();
    }
  });

  it('reads SQS form bodies and DynamoDB JSON bodies to name and price the call', async () => {
    const sqs = await new CountingProxy({ name: 'sqs', service: 'sqs', upstream: upstreamUrl }).start();
    const ddb = await new CountingProxy({ name: 'dynamodb', service: 'dynamodb', upstream: upstreamUrl }).start();
    try {
      await send(
        `${sqs.url}/0/q`,
        'POST',
        { 'content-type': 'application/x-www-form-urlencoded' },
        'Action=SendMessage&MessageBody=hi',
      );
      await send(`${sqs.url}/`, 'POST', { 'x-amz-target': 'AmazonSQS.SendMessageBatch' }, 'x'.repeat(70_000));
      expect(sqs.stats().actions.SendMessage).toMatchObject({ requests: 1, units: 1, billing: 'sqs' });
      expect(sqs.stats().actions.SendMessageBatch).toMatchObject({ requests: 1, units: 2 });
      const item = { Item: { pk: { S: 'k' }, v: { S: 'x'.repeat(1500) } } };
      await send(`${ddb.url}/`, 'POST', { 'x-amz-target': 'DynamoDB_20120810.PutItem' }, JSON.stringify(item));
      expect(ddb.stats().actions.PutItem).toMatchObject({ requests: 1, units: 2, billing: 'dynamodb-write' });
    } finally {
      await Promise.all([sqs.close(), ddb.close()]);
    }
  });

  it('adds the delay to every round trip, and a handshake to a new connection', async () => {
    const proxy = await new CountingProxy({
      name: 's3:slow',
      service: 's3',
      upstream: upstreamUrl,
      oneWayDelayMs: 25,
    }).start();
    try {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      let t = Date.now();
      await send(`${proxy.url}/b/k`, 'GET', {}, undefined, agent);
      const first = Date.now() - t;
      t = Date.now();
      await send(`${proxy.url}/b/k`, 'PUT', { 'content-length': '10' }, '0123456789', agent);
      const second = Date.now() - t;
      agent.destroy();
      expect(first).toBeGreaterThanOrEqual(98); // 2 x 25 round trip + 2 x 25 handshake
      expect(second).toBeGreaterThanOrEqual(48);
      expect(second).toBeLessThan(first);
      expect(seen.at(-1)!.bytes).toBe(10);
    } finally {
      await proxy.close();
    }
  });

  it('drops hop-by-hop headers and keeps the rest as sent', () => {
    expect(
      forwardHeaders([
        'Host',
        'h',
        'Connection',
        'keep-alive',
        'Expect',
        '100-continue',
        'X-Amz-Date',
        'd',
        'Transfer-Encoding',
        'chunked',
      ]),
    ).toEqual(['Host', 'h', 'X-Amz-Date', 'd']);
    expect(forwardHeaders(['Transfer-Encoding', 'chunked'], true)).toEqual(['Transfer-Encoding', 'chunked']);
  });
});

describe('bench:s3 command line', () => {
  const BENCH = fileURLToPath(new URL('../../../dist/test/bench/s3-bench.js', import.meta.url));
  const runBench = (args: string[]) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, [BENCH, ...args], { timeout: 30_000 }, (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
  it('is built (npx tsc -p tsconfig.json)', () => {
    expect(existsSync(BENCH)).toBe(true);
  });
  it('lists the new cases, tools and options in --help', async () => {
    const r = await runBench(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('--cases a,b,c,d,e');
    expect(r.stdout).toContain('rclone256');
    expect(r.stdout).toContain('--steady-seconds S');
  });
  it.each([
    [['--cases', 'a,f'], /--cases: unknown case "f" \(cases: a, b, c, d, e\)/],
    [
      ['--tools', 'convoy,rclone512'],
      /--tools: unknown tool "rclone512" \(tools: convoy, convoy-work, rclone16, rclone64, rclone256, awscli\)/,
    ],
    [['--direct', '--cases', 'a,d'], /--direct: case d adds its delay in the proxies/],
    [['--steady-seconds', '0'], /--steady-seconds must be a number >= 1, got "0"/],
    [['--e-objects', 'many'], /--e-objects must be a number >= 10, got "many"/],
  ])('refuses %j with exit 2 and a clear message', async (args, message) => {
    const r = await runBench(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
