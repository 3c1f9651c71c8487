/**
 * A small HTTP proxy in front of one endpoint (an S3 emulator, SQS, DynamoDB) that counts the
 * requests through it by API action (request-types.ts), and can add a delay to every round trip.
 * bench:s3 puts one in front of each endpoint, the same for every tool, so that requests per
 * object and their price are measured the same way for convoy, rclone and aws-cli.
 *
 * Plain node:http, bodies streamed through chunk by chunk (never gathered), the client's headers
 * passed on as sent (Host included, so signatures stay valid) less the hop-by-hop ones; an
 * `Expect: 100-continue` is answered here. Only the JSON body of a DynamoDB call (and the first
 * chunk of an SQS query-protocol call) is also looked at, up to `peekBytes`, while it is
 * forwarded, to estimate its billed units.
 *
 * Delay (`oneWayDelayMs` = d): every request head and body chunk is forwarded d ms after it
 * arrived, every response head and chunk d ms after the upstream sent it, in order: a round trip
 * costs 2d, as on a link with that latency (and no bandwidth limit). The first request on a new
 * client connection waits 2d more, for the TCP handshake a real link would cost.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import {
  billedUnits,
  billingClass,
  classify,
  needsBodyToClassify,
  writesObject,
  type BillingClass,
  type Service,
} from './request-types.js';

export interface ProxyOptions {
  /** a name for the report, e.g. `s3:minio`, `sqs`, `dynamodb` */
  name: string;
  service: Service;
  /** the endpoint behind it, e.g. http://127.0.0.1:4566 */
  upstream: string;
  /** added to each direction of every exchange (ms); 0 = none (default) */
  oneWayDelayMs?: number;
  /** listen address (default 127.0.0.1) */
  host?: string;
  /** how much of a DynamoDB body is read to estimate its units (default 256 KiB) */
  peekBytes?: number;
}

/** Per API action: requests, how they ended, bytes each way, and billed units. */
export interface ActionStats {
  requests: number;
  status4xx: number;
  /** 5xx or no answer (not billed) */
  failed: number;
  request_bytes: number;
  response_bytes: number;
  /** billed units: S3 requests, SQS 64 KiB requests, DynamoDB request units */
  units: number;
  billing: BillingClass;
}

export interface ProxyStats {
  name: string;
  service: Service;
  connections: number;
  actions: Record<string, ActionStats>;
}

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'expect',
]);

/** rawHeaders without hop-by-hop headers; `keepTransferEncoding` for a body sent chunked. */
export function forwardHeaders(raw: string[], keepTransferEncoding = false): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (HOP_BY_HOP.has(name) && !(keepTransferEncoding && name === 'transfer-encoding')) continue;
    out.push(raw[i]!, raw[i + 1]!);
  }
  return out;
}

/** Runs callbacks `delayMs` after they were queued, in order (at once when the delay is 0). */
class DelayLine {
  private readonly queue: Array<{ at: number; fn: () => void }> = [];
  private timer: NodeJS.Timeout | undefined;
  constructor(private readonly delayMs: number) {}

  run(fn: () => void, extraMs = 0): void {
    if (this.delayMs <= 0 && extraMs <= 0 && !this.queue.length) {
      fn();
      return;
    }
    this.queue.push({ at: Date.now() + this.delayMs + extraMs, fn });
    this.schedule();
  }

  private schedule(): void {
    if (this.timer || !this.queue.length) return;
    this.timer = setTimeout(() => this.flush(), Math.max(0, this.queue[0]!.at - Date.now()));
  }

  private flush(): void {
    this.timer = undefined;
    const now = Date.now();
    while (this.queue.length && this.queue[0]!.at <= now) this.queue.shift()!.fn();
    this.schedule();
  }

  cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.queue.length = 0;
  }
}

export class CountingProxy {
  readonly name: string;
  readonly service: Service;
  private readonly upstream: URL;
  private readonly delayMs: number;
  private readonly peekBytes: number;
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 1024 });
  private readonly server: http.Server;
  private readonly seen = new WeakSet<Socket>();
  private actions = new Map<string, ActionStats>();
  private connections = 0;
  private writeTimes: number[] = [];
  private readonly open = new Set<Socket>();
  port = 0;

  constructor(private readonly opts: ProxyOptions) {
    this.name = opts.name;
    this.service = opts.service;
    this.upstream = new URL(opts.upstream);
    this.delayMs = opts.oneWayDelayMs ?? 0;
    this.peekBytes = opts.peekBytes ?? 256 * 1024;
    this.server = http.createServer((req, res) => this.handle(req, res));
    // long-lived keep-alive connections, no request deadline: the tools decide
    this.server.keepAliveTimeout = 65_000;
    this.server.requestTimeout = 0;
    this.server.headersTimeout = 65_000;
    this.server.on('connection', (socket: Socket) => {
      this.connections++;
      this.open.add(socket);
      socket.once('close', () => this.open.delete(socket));
    });
  }

  get url(): string {
    return `http://${this.opts.host ?? '127.0.0.1'}:${this.port}`;
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, this.opts.host ?? '127.0.0.1', () => resolve());
    });
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async close(): Promise<void> {
    for (const s of this.open) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.agent.destroy();
  }

  /** Forget the counts so far (between two tool runs). */
  reset(): void {
    this.actions = new Map();
    this.connections = 0;
    this.writeTimes = [];
  }

  stats(): ProxyStats {
    const actions: Record<string, ActionStats> = {};
    for (const [k, v] of [...this.actions].sort((a, b) => a[0].localeCompare(b[0]))) actions[k] = { ...v };
    return { name: this.name, service: this.service, connections: this.connections, actions };
  }

  /** When each object-writing request (PutObject, CopyObject, CompleteMultipartUpload) ended with 2xx, epoch ms. */
  objectWriteTimes(): number[] {
    return [...this.writeTimes];
  }

  private record(action: string, status: number, reqBytes: number, respBytes: number, body: string): void {
    let s = this.actions.get(action);
    if (!s) {
      s = {
        requests: 0,
        status4xx: 0,
        failed: 0,
        request_bytes: 0,
        response_bytes: 0,
        units: 0,
        billing: billingClass(this.service, action),
      };
      this.actions.set(action, s);
    }
    s.requests++;
    if (status >= 400 && status < 500) s.status4xx++;
    if (status === 0 || status >= 500) s.failed++;
    s.request_bytes += reqBytes;
    s.response_bytes += respBytes;
    s.units += billedUnits(this.service, action, status, reqBytes, respBytes, body);
    if (this.service === 's3' && status >= 200 && status < 300 && writesObject(action))
      this.writeTimes.push(Date.now());
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const path = req.url ?? '/';
    const method = req.method ?? 'GET';
    const waitForBody = needsBodyToClassify(this.service, method, path, req.headers);
    const peek = this.service === 'dynamodb' || waitForBody;
    let action = waitForBody ? 'other' : classify(this.service, method, path, req.headers);
    let reqBytes = 0;
    let respBytes = 0;
    let status = 0;
    const peeked: Buffer[] = [];
    let peekedBytes = 0;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      const body = peek ? Buffer.concat(peeked).toString('utf8') : '';
      this.record(action, status, reqBytes, respBytes, body);
    };

    const toUpstream = new DelayLine(this.delayMs);
    const toClient = new DelayLine(this.delayMs);
    const firstOnConnection = !this.seen.has(req.socket);
    this.seen.add(req.socket);
    let up: http.ClientRequest | undefined;
    let upstreamResponse: http.IncomingMessage | undefined;
    const abort = () => {
      toUpstream.cancel();
      toClient.cancel();
      up?.destroy();
      upstreamResponse?.destroy();
      finish();
    };

    res.sendDate = false; // the upstream's Date header is passed on
    res.once('close', () => {
      if (!res.writableFinished) abort();
    });
    req.once('error', abort);

    toUpstream.run(
      () => {
        up = http.request({
          host: this.upstream.hostname,
          port: this.upstream.port,
          method,
          path,
          headers: forwardHeaders(req.rawHeaders, req.headers['transfer-encoding'] !== undefined),
          setHost: false,
          agent: this.agent,
        });
        up.on('error', (err) => {
          if (!res.headersSent) {
            status = 502;
            res.writeHead(502, { 'content-type': 'text/plain' });
            res.end(`counting proxy ${this.name}: upstream error: ${err.message}\n`);
          } else {
            res.destroy(err);
          }
          finish();
        });
        up.on('response', (r) => {
          upstreamResponse = r;
          toClient.run(() => {
            status = r.statusCode ?? 0;
            // Transfer-Encoding kept: a chunked answer is re-chunked by node, and a HEAD answer
            // without Content-Length would otherwise make node close the client's connection
            res.writeHead(r.statusCode ?? 502, r.statusMessage, forwardHeaders(r.rawHeaders, true));
          });
          let waiting = false;
          r.on('data', (chunk: Buffer) => {
            respBytes += chunk.length;
            toClient.run(() => {
              if (!res.write(chunk) && !waiting) {
                waiting = true;
                r.pause();
                res.once('drain', () => {
                  waiting = false;
                  r.resume();
                });
              }
            });
          });
          r.on('end', () =>
            toClient.run(() => {
              res.end();
              finish();
            }),
          );
          r.on('error', abort);
        });
      },
      firstOnConnection ? 2 * this.delayMs : 0,
    );

    let waiting = false;
    req.on('data', (chunk: Buffer) => {
      reqBytes += chunk.length;
      if (peek && peekedBytes < this.peekBytes) {
        peeked.push(chunk.subarray(0, this.peekBytes - peekedBytes));
        peekedBytes += Math.min(chunk.length, this.peekBytes - peekedBytes);
        if (waitForBody && action === 'other')
          action = classify(this.service, method, path, req.headers, Buffer.concat(peeked).toString('utf8'));
      }
      toUpstream.run(() => {
        if (!up!.write(chunk) && !waiting) {
          waiting = true;
          req.pause();
          up!.once('drain', () => {
            waiting = false;
            req.resume();
          });
        }
      });
    });
    req.on('end', () => toUpstream.run(() => up!.end()));
  }
}
