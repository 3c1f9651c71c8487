/**
 * A reverse proxy in front of an S3 emulator, for faults the emulators cannot produce themselves:
 * a bucket policy that refuses one access key (S3's own 403 AccessDenied document), an object
 * deleted at the exact moment a worker is about to read it, or an answer held on the wire (also in
 * front of the queue's emulator). Everything else is forwarded to the real emulator untouched.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type ProxyVerdict = { status: number; body: string } | void;

export interface S3ProxyOptions {
  /** called before a request is forwarded; return a response to answer it here instead */
  before?: (req: http.IncomingMessage, upstream: string) => Promise<ProxyVerdict> | ProxyVerdict;
  /**
   * called with the upstream's whole answer before it is passed on, which waits until this
   * resolves: an answer held on the wire (the proxy also serves the queue's JSON API this way)
   */
  holdAnswer?: (req: http.IncomingMessage, body: Buffer) => Promise<void> | void;
}

export async function startS3Proxy(
  target: string,
  opts: S3ProxyOptions = {},
): Promise<{ url: string; requests: number; close(): Promise<void> }> {
  const upstream = new URL(target);
  const state = { requests: 0 };
  const server = http.createServer(async (req, res) => {
    state.requests++;
    const verdict = await opts.before?.(req, target);
    if (verdict) {
      req.resume();
      res.writeHead(verdict.status, { 'content-type': 'application/xml' });
      res.end(verdict.body);
      return;
    }
    const fwd = http.request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
      (up) => {
        const hold = opts.holdAnswer;
        if (!hold) {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
          return;
        }
        const chunks: Buffer[] = [];
        up.on('data', (c: Buffer) => chunks.push(c));
        up.on('end', async () => {
          const body = Buffer.concat(chunks);
          await hold(req, body);
          res.writeHead(up.statusCode ?? 502, up.headers);
          res.end(body);
        });
      },
    );
    fwd.on('error', () => res.destroy());
    req.pipe(fwd);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get requests() {
      return state.requests;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

export const accessDenied = {
  status: 403,
  body: '<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>',
};

/** Refuse every request signed with this access key. */
export function denyAccessKey(accessKeyId: string): S3ProxyOptions {
  return {
    before: (req) =>
      (req.headers.authorization ?? '').includes(`Credential=${accessKeyId}/`) ? accessDenied : undefined,
  };
}
