/**
 * Serving a ucanto server over HTTP with hono on 127.0.0.1, plus what every local peer shares:
 * fault injection (answer 503 for the next N requests, refuse the next N invocations of one
 * capability with 429 as a rate limiter in front of the service would, or add latency) so tests
 * can prove that retries and rate control work, and a loopback-only `node:http` for the
 * upload-api's own storage-node servers.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import * as CAR from '@ucanto/transport/car';
import { sleep } from '../../../../shared/sleep.js';

/** The part of a ucanto server we serve. */
export interface UcantoRequestHandler {
  request(req: {
    headers: Record<string, string>;
    body: Uint8Array;
  }): Promise<{ status?: number; headers?: Record<string, string>; body: Uint8Array }>;
}

export class PeerFaults {
  private unavailable = 0;
  /** extra milliseconds before every answer (latency injection for benchmarks) */
  latencyMs = 0;
  /** how many requests were refused with 503 */
  refused = 0;
  /** how many requests reached the peer (every route, refused ones included) */
  requests = 0;

  /** capability (`provider/add`) -> how many more requests invoking it to refuse, and with what status */
  private readonly refusals = new Map<string, { left: number; status: number }>();
  /** refused requests per capability (those `refuseNext` asked for) */
  readonly refusedByCapability = new Map<string, number>();

  /** answer the next `n` requests with 503 */
  failNext(n: number): void {
    this.unavailable = n;
  }

  /**
   * Answer the next `n` requests that invoke `capability` with HTTP `status` (429: what a rate
   * limiter in front of the service answers), before the service sees them; other requests pass.
   */
  refuseNext(capability: string, n: number, status = 429): void {
    this.refusals.set(capability, { left: n, status });
  }

  /** The refusal for a POSTed ucanto message, if one of its invocations is of a refused capability. */
  async refuseInvocation(body: Uint8Array): Promise<Response | undefined> {
    if (![...this.refusals.values()].some((r) => r.left > 0)) return undefined; // decode only when armed
    const message = await CAR.request.decode({ headers: {}, body } as never);
    for (const invocation of (message as { invocations: Array<{ capabilities: Array<{ can: string }> }> })
      .invocations) {
      for (const { can } of invocation.capabilities) {
        const r = this.refusals.get(can);
        if (!r || r.left <= 0) continue;
        r.left--;
        this.refusedByCapability.set(can, (this.refusedByCapability.get(can) ?? 0) + 1);
        return new Response(`too many ${can} requests (injected)`, { status: r.status });
      }
    }
    return undefined;
  }

  async before(): Promise<Response | undefined> {
    this.requests++;
    if (this.latencyMs > 0) await sleep(this.latencyMs);
    if (this.unavailable > 0) {
      this.unavailable--;
      this.refused++;
      return new Response('service unavailable (injected)', { status: 503 });
    }
    return undefined;
  }
}

/** hono routes: POST / to the ucanto server, with faults applied to every route. */
export function ucantoApp(server: UcantoRequestHandler, faults: PeerFaults): Hono {
  const app = new Hono();
  app.use('*', async (_c, next) => {
    const refused = await faults.before();
    if (refused) return refused;
    await next();
  });
  app.post('/', async (c) => {
    const body = new Uint8Array(await c.req.arrayBuffer());
    const refused = await faults.refuseInvocation(body);
    if (refused) return refused;
    const headers: Record<string, string> = {};
    c.req.raw.headers.forEach((v, k) => (headers[k] = v));
    const res = await server.request({ headers, body });
    return new Response(Buffer.from(res.body), { status: res.status ?? 200, headers: res.headers });
  });
  return app;
}

export interface RunningApp {
  url: string;
  close(): Promise<void>;
}

export async function listenLoopback(app: Hono, port = 0): Promise<RunningApp> {
  let server: ServerType | undefined;
  const address = await new Promise<AddressInfo>((resolve) => {
    server = serve({ fetch: app.fetch, port, hostname: '127.0.0.1' }, (info) => resolve(info as AddressInfo));
  });
  return {
    url: `http://127.0.0.1:${address.port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        const s = server as http.Server;
        s.closeAllConnections?.();
        s.close(() => resolve());
      }),
  };
}

/**
 * `node:http` whose servers listen on 127.0.0.1 only: the upload-api's test context starts
 * storage-node servers with `listen(callback)`, which would bind every interface.
 * Those servers also end every answer with `response.destroy()` (so that its own tests' servers
 * close without lingering connections): each blob PUT and each allocate/accept cost the client a
 * new TCP connection, and a keep-alive client that reused a socket as it was destroyed got a reset
 * ("socket hang up" in the worker, "other side closed" -> HTTP 500 from ucan/conclude). A storage
 * node in production (R2 or S3 behind a presigned URL) keeps connections alive, so here a destroy
 * after the answer has ended, without an error, leaves the connection open instead; the servers
 * still close their idle connections when closed (Node >= 19), and a destroy with an error, or
 * before the answer ended, still destroys.
 * `listening` collects the port of every server started through it.
 */
export function loopbackHttp(listening: number[] = []) {
  return {
    ...http,
    createServer(...args: unknown[]) {
      const wrapped = args.map((a) =>
        typeof a === 'function'
          ? (req: http.IncomingMessage, res: http.ServerResponse) => {
              const destroy = res.destroy.bind(res);
              res.destroy = (err?: Error) => (err || !res.writableEnded ? destroy(err) : res);
              return (a as http.RequestListener)(req, res);
            }
          : a,
      );
      const server = (http.createServer as (...a: unknown[]) => http.Server)(...wrapped);
      const listen = server.listen.bind(server) as (...a: unknown[]) => http.Server;
      (server as { listen: unknown }).listen = (...largs: unknown[]) => {
        const cb = largs.find((a) => typeof a === 'function') as (() => void) | undefined;
        const port = typeof largs[0] === 'number' ? largs[0] : 0;
        return listen(port, '127.0.0.1', () => {
          // the ports the servers got, for a harness that must route other hosts to them
          listening.push((server.address() as AddressInfo).port);
          cb?.();
        });
      };
      return server;
    },
  };
}
