/**
 * (Used by test/s3-sync/adaptive-rate.test.ts and npm run bench:adaptive.)
 * An S3 endpoint with a fixed capacity, the way a real S3 prefix (or any rate-limited service)
 * behaves: a proxy in front of an emulator that admits at most `putsPerSecond` PUT requests per
 * second (a token bucket holding `burstSeconds` of them) and answers the others 503 SlowDown,
 * as S3 does. Every other request (GET, LIST, HEAD, and SQS's POSTs on fauxqs's shared port)
 * passes untouched. `oneWayDelayMs` delays every exchange, standing for the distance to the
 * endpoint, so that few transfers cannot fill the capacity on loopback.
 *
 * It counts admitted and throttled PUTs and the time of the first and last admitted one: the
 * adaptive benchmark's figures come from here, not from the tool being measured.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';

export interface CapacityProxyOptions {
  upstream: string;
  putsPerSecond: number;
  burstSeconds?: number;
  oneWayDelayMs?: number;
  /**
   * Which requests the capacity applies to (default: S3 object PUTs) and what the others get
   * (default: 503 SlowDown): e.g. every request to a UCAN service, refused 429 as a rate limiter
   * in front of one does (test/uploads/adaptive-rate.test.ts).
   */
  limits?: (req: http.IncomingMessage) => boolean;
  refuse?: { status: number; contentType: string; body: string };
}

export interface CapacityStats {
  admitted: number;
  throttled: number;
  firstAdmittedAtMs?: number;
  lastAdmittedAtMs?: number;
  /** admitted PUTs per whole second since the first, for a time series */
  perSecond: number[];
  /** throttled PUTs per whole second since the first admitted one */
  throttledPerSecond: number[];
}

const SLOW_DOWN =
  '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>';

/** object PUTs only (path /bucket/key): creating the bucket is not part of the traffic, nor SQS on a shared port */
function isObjectPut(req: http.IncomingMessage): boolean {
  return req.method === 'PUT' && req.headers['x-amz-target'] === undefined && /^\/[^/?]+\/[^?]/.test(req.url ?? '');
}

export class CapacityProxy {
  private server: http.Server | undefined;
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 1024 });
  private tokens: number;
  private lastRefillMs = Date.now();
  /** requests to refuse whatever the bucket holds (refuseNext) */
  private refuseLeft = 0;
  stats: CapacityStats = { admitted: 0, throttled: 0, perSecond: [], throttledPerSecond: [] };
  url = '';

  constructor(private readonly opts: CapacityProxyOptions) {
    this.tokens = this.burst;
  }

  private get burst(): number {
    return this.opts.putsPerSecond * (this.opts.burstSeconds ?? 0.2);
  }

  /** Take one token if there is one (refilled continuously at putsPerSecond). */
  private admit(nowMs: number): boolean {
    this.tokens = Math.min(this.burst, this.tokens + ((nowMs - this.lastRefillMs) / 1000) * this.opts.putsPerSecond);
    this.lastRefillMs = nowMs;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  reset(): void {
    this.stats = { admitted: 0, throttled: 0, perSecond: [], throttledPerSecond: [] };
    this.refuseLeft = 0;
  }

  /**
   * Refuse the next `n` limited requests, as a limiter whose capacity other clients have just
   * used up does: refusals that come as densely as the tool sends, however slowly it runs (a
   * token bucket refuses only what comes faster than its rate, which a starved client may never
   * do). Counted in `stats.throttled` like the bucket's refusals.
   */
  refuseNext(n: number): void {
    this.refuseLeft = n;
  }

  private secondOf(nowMs: number, series: number[]): void {
    const second = Math.max(0, Math.floor((nowMs - (this.stats.firstAdmittedAtMs ?? nowMs)) / 1000));
    while (series.length <= second) series.push(0);
    series[second] = (series[second] ?? 0) + 1;
  }

  private record(nowMs: number): void {
    const s = this.stats;
    s.admitted++;
    s.firstAdmittedAtMs ??= nowMs;
    s.lastAdmittedAtMs = nowMs;
    this.secondOf(nowMs, s.perSecond);
  }

  async start(): Promise<this> {
    const upstream = new URL(this.opts.upstream);
    const oneWay = this.opts.oneWayDelayMs ?? 0;
    this.server = http.createServer(async (req, res) => {
      if (oneWay) await delay(oneWay);
      if ((this.opts.limits ?? isObjectPut)(req)) {
        const now = Date.now();
        const refuseAnyway = this.refuseLeft > 0;
        if (refuseAnyway) this.refuseLeft--;
        if (refuseAnyway || !this.admit(now)) {
          this.stats.throttled++;
          this.secondOf(now, this.stats.throttledPerSecond);
          req.resume();
          const refuse = this.opts.refuse ?? { status: 503, contentType: 'application/xml', body: SLOW_DOWN };
          req.on('end', () => {
            res.writeHead(refuse.status, {
              'content-type': refuse.contentType,
              'content-length': Buffer.byteLength(refuse.body),
            });
            res.end(refuse.body);
          });
          return;
        }
        this.record(now);
      }
      const up = http.request(
        {
          hostname: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: req.url,
          headers: req.headers,
          agent: this.agent,
        },
        async (upRes) => {
          if (oneWay) await delay(oneWay);
          res.writeHead(upRes.statusCode ?? 502, upRes.headers);
          upRes.pipe(res);
        },
      );
      up.on('error', () => {
        if (!res.headersSent) res.writeHead(502);
        res.end();
      });
      req.pipe(up);
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    this.agent.destroy();
    await new Promise<void>((resolve) => {
      if (!this.server) return resolve();
      this.server.closeAllConnections();
      this.server.close(() => resolve());
    });
  }
}
