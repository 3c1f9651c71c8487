/**
 * A small `fetch` for the UCAN clients (ucanto's HTTP channel, the indexing-service client, the
 * upload client's PUT and receipt requests), on node:http/https with keep-alive agents.
 *
 * Why not the global fetch: every UCAN round trip is a small request with a small body, and
 * undici's fetch spends most of its CPU on WHATWG streams and bookkeeping around them. Profiles
 * of a worker showed ~2 ms of main-thread CPU per request there, the largest single item per
 * upload after the removal of pure-JS signatures. These clients read a response only through
 * `ok`, `status`, `headers`, `arrayBuffer()`, `text()` and `json()`, which is what this returns
 * (bodies are buffered: UCAN messages, claim query results and index blobs are small).
 *
 * Errors keep Node's codes (ECONNREFUSED, ECONNRESET, ...), which the error classifier knows as
 * network faults (retryable).
 */
import http from 'node:http';
import https from 'node:https';
import { gunzipSync, inflateSync, brotliDecompressSync } from 'node:zlib';

export interface LeanFetchOptions {
  /** sockets per origin. @defaultValue 256 */
  maxSockets?: number;
}

type HeadersLike = Record<string, string> | Headers | Array<[string, string]> | undefined;

interface LeanInit {
  method?: string;
  headers?: HeadersLike;
  body?: Uint8Array | ArrayBuffer | string | null;
  signal?: AbortSignal | null;
}

/** What the UCAN clients read from a response. */
export class LeanResponse {
  readonly ok: boolean;
  readonly headers: Headers;
  readonly redirected = false;
  readonly type = 'basic';
  constructor(
    private readonly bytes: Buffer,
    readonly status: number,
    readonly statusText: string,
    headers: http.IncomingHttpHeaders,
    readonly url: string,
  ) {
    this.ok = status >= 200 && status < 300;
    this.headers = new Headers();
    for (const [k, v] of Object.entries(headers))
      if (v !== undefined) this.headers.set(k, Array.isArray(v) ? v.join(', ') : v);
  }
  /** non-null, as clients that check `response.body` expect; read it with arrayBuffer() */
  get body(): Uint8Array {
    return this.bytes;
  }
  async arrayBuffer(): Promise<ArrayBuffer> {
    return this.bytes.buffer.slice(this.bytes.byteOffset, this.bytes.byteOffset + this.bytes.length) as ArrayBuffer;
  }
  async text(): Promise<string> {
    return this.bytes.toString('utf8');
  }
  async json(): Promise<unknown> {
    return JSON.parse(this.bytes.toString('utf8'));
  }
}

function headerRecord(h: HeadersLike): Record<string, string> {
  if (!h) return {};
  if (h instanceof Headers) return Object.fromEntries(h.entries());
  if (Array.isArray(h)) return Object.fromEntries(h);
  return { ...h };
}

function bodyBuffer(body: LeanInit['body']): Buffer | undefined {
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string') return Buffer.from(body);
  if (body instanceof ArrayBuffer) return Buffer.from(body);
  if (ArrayBuffer.isView(body)) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  throw new TypeError('lean fetch: only byte and string bodies are supported');
}

function decode(bytes: Buffer, encoding: string | undefined): Buffer {
  switch (encoding) {
    case 'gzip':
    case 'x-gzip':
      return gunzipSync(bytes);
    case 'deflate':
      return inflateSync(bytes);
    case 'br':
      return brotliDecompressSync(bytes);
    default:
      return bytes;
  }
}

export function createLeanFetch(opts: LeanFetchOptions = {}): typeof fetch {
  const agents = {
    'http:': new http.Agent({ keepAlive: true, maxSockets: opts.maxSockets ?? 256 }),
    'https:': new https.Agent({ keepAlive: true, maxSockets: opts.maxSockets ?? 256 }),
  };
  const send = (
    url: URL,
    init: LeanInit,
    body: Buffer | undefined,
    headers: Record<string, string>,
    firstTry: boolean,
  ): Promise<LeanResponse> =>
    new Promise((resolve, reject) => {
      const lib = url.protocol === 'https:' ? https : http;
      const agent = agents[url.protocol as 'http:' | 'https:'];
      const signal = init.signal ?? undefined;
      if (signal?.aborted) return reject(signal.reason ?? new Error('aborted'));
      const req = lib.request(url, { method: init.method ?? 'GET', headers, agent, signal }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          try {
            const raw = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
            resolve(
              new LeanResponse(
                decode(raw, res.headers['content-encoding']),
                res.statusCode ?? 0,
                res.statusMessage ?? '',
                res.headers,
                url.href,
              ),
            );
          } catch (err) {
            reject(err);
          }
        });
      });
      req.on('error', (err: NodeJS.ErrnoException) => {
        // A kept-alive socket the server closed just as we reused it: the request never reached
        // the server, so it is sent again once on a new socket (what Node's docs advise).
        if (firstTry && req.reusedSocket && err.code === 'ECONNRESET') resolve(send(url, init, body, headers, false));
        else reject(err);
      });
      req.end(body);
    });
  const leanFetch = (input: string | URL | { url: string }, init: LeanInit = {}): Promise<LeanResponse> => {
    const url = typeof input === 'string' ? new URL(input) : input instanceof URL ? input : new URL(input.url);
    if (!agents[url.protocol as 'http:' | 'https:'])
      return Promise.reject(new TypeError(`lean fetch: unsupported protocol ${url.protocol}`));
    const body = bodyBuffer(init.body);
    const headers = headerRecord(init.headers);
    if (body) headers['content-length'] = String(body.length);
    return send(url, init, body, headers, true);
  };
  return leanFetch as unknown as typeof fetch;
}
