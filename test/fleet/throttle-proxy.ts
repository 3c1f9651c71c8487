/**
 * An HTTP proxy in front of one emulator that answers a fraction of requests with the
 * throttling error the real service would send, instead of forwarding them:
 *   DynamoDB  400 ProvisionedThroughputExceededException (JSON 1.0)
 *   SQS       400 RequestThrottled (JSON protocol, x-amz-target AmazonSQS.*)
 *   S3        503 SlowDown (XML)
 * The AWS SDK classifies all three as throttling and retries them with backoff, so what the
 * chaos suite tests is that convoy survives them (SDK retries, then the worker's own retries),
 * and counts how many it injected. The other requests are forwarded unchanged with keep-alive.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type ServiceKind = 'dynamodb' | 'sqs' | 's3';

export interface ThrottleResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Which service a request to a shared endpoint is for (fauxqs serves SQS and S3 on one port). */
export function serviceOf(endpointKind: 'dynamodb' | 'fauxqs', headers: http.IncomingHttpHeaders): ServiceKind {
  if (endpointKind === 'dynamodb') return 'dynamodb';
  const target = String(headers['x-amz-target'] ?? '');
  return target.startsWith('AmazonSQS') ? 'sqs' : 's3';
}

/** The error response a throttled request gets, per service. */
export function throttleResponse(service: ServiceKind): ThrottleResponse {
  const requestId = Math.random().toString(16).slice(2, 18);
  switch (service) {
    case 'dynamodb':
      return {
        status: 400,
        headers: {
          'content-type': 'application/x-amz-json-1.0',
          'x-amzn-requestid': requestId,
          'x-amzn-errortype': 'ProvisionedThroughputExceededException',
        },
        body: JSON.stringify({
          __type: 'com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException',
          message:
            'The level of configured provisioned throughput for the table was exceeded (injected by the chaos proxy)',
        }),
      };
    case 'sqs':
      return {
        status: 400,
        headers: {
          'content-type': 'application/x-amz-json-1.0',
          'x-amzn-requestid': requestId,
          'x-amzn-query-error': 'RequestThrottled;Sender',
        },
        body: JSON.stringify({
          __type: 'com.amazonaws.sqs#RequestThrottled',
          message: 'Rate exceeded (injected by the chaos proxy)',
        }),
      };
    case 's3':
      return {
        status: 503,
        headers: { 'content-type': 'application/xml', 'x-amz-request-id': requestId },
        body: `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code><Message>Please reduce your request rate (injected by the chaos proxy).</Message><RequestId>${requestId}</RequestId></Error>`,
      };
  }
}

export interface ThrottleProxyOptions {
  endpointKind: 'dynamodb' | 'fauxqs';
  upstreamPort: number;
  /** fraction of requests answered with a throttling error, 0..1 */
  rate: number;
  random?: () => number;
}

export class ThrottleProxy {
  private server: http.Server | undefined;
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 512 });
  /** injected errors per service */
  readonly injected: Record<ServiceKind, number> = { dynamodb: 0, sqs: 0, s3: 0 };
  forwarded = 0;
  rate: number;
  port = 0;

  constructor(private readonly opts: ThrottleProxyOptions) {
    this.rate = opts.rate;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    const random = this.opts.random ?? Math.random;
    const server = http.createServer((req, res) => {
      const service = serviceOf(this.opts.endpointKind, req.headers);
      if (random() < this.rate) {
        // drain the request body first, as a real service would read it
        req.resume();
        req.on('end', () => {
          this.injected[service]++;
          const r = throttleResponse(service);
          res.writeHead(r.status, { ...r.headers, 'content-length': Buffer.byteLength(r.body) });
          res.end(r.body);
        });
        return;
      }
      this.forwarded++;
      const upstream = http.request(
        {
          host: '127.0.0.1',
          port: this.opts.upstreamPort,
          method: req.method,
          path: req.url,
          headers: req.headers,
          agent: this.agent,
        },
        (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        },
      );
      upstream.on('error', () => {
        // the emulator is down: close the client's connection like a dead service would
        res.destroy();
      });
      req.pipe(upstream);
    });
    server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
    return this;
  }

  async close(): Promise<void> {
    this.agent.destroy();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
