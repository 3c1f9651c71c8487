/**
 * S3Requests: SigV4-signed S3 requests over keep-alive node:http(s), for the paths that send one
 * request per object (s3-sync's GET/PUT/COPY and listings through worker/jobs/s3-sync/
 * object-client.ts; the uploads kind's shard GETs in its piscina threads, shard-source.ts).
 *
 * Why not the SDK there: measured on this project's 2-core machine, a plain SDK GET->PUT loop costs
 * 2.3-2.9 ms of CPU per object (middleware stack, schema serde, XML parsing, endpoint rules for
 * every call), rclone 0.6 ms, and these signed requests 0.44 ms (docs/benchmarks.md). In
 * bench:uploads the shard GET on the SDK was ~3 ms of the worker's ~17 ms of CPU per upload.
 * HEAD, multipart uploads and bucket checks stay on the SDK, where the per-call cost does not
 * matter.
 *
 * Errors look like the SDK's (`name` = the S3 error code, `$metadata.httpStatusCode`), so the
 * same classifier (shared/errors.ts) decides what is retryable. There are no retries in here: a
 * failed request fails its item, whose retry is the engine's.
 */
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import { fromIni, fromNodeProviderChain } from '@aws-sdk/credential-providers';
import type { RemoteConfig } from './config.js';
import { abortable } from './abortable-request.js';
import { canonicalQuery, SigV4Signer, type SigV4Credentials } from './sigv4.js';

/** An S3 error answer, shaped like the SDK's service exceptions. */
export class S3ResponseError extends Error {
  readonly $metadata: { httpStatusCode: number };
  readonly $fault: 'client' | 'server';
  constructor(code: string, message: string, status: number) {
    super(message || code);
    this.name = code;
    this.$metadata = { httpStatusCode: status };
    this.$fault = status >= 500 ? 'server' : 'client';
  }
}

export function encodeKey(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/');
}

export function readAll(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', reject);
  });
}

/** The text of the first `<tag>` of an S3 XML answer (raw: entities left as they are). */
export function xmlTag(xml: string, tag: string): string | undefined {
  const m = new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`).exec(xml);
  return m?.[1];
}

/** The error an S3 answer other than the expected one stands for; `what` names the request. */
export async function errorFrom(res: IncomingMessage, what: string): Promise<S3ResponseError> {
  const text =
    (res as IncomingMessage & { method?: string }).method === 'HEAD' ? '' : await readAll(res).catch(() => '');
  const status = res.statusCode ?? 0;
  const code =
    xmlTag(text, 'Code') ??
    (status === 404
      ? 'NotFound'
      : status === 412
        ? 'PreconditionFailed'
        : status === 503
          ? 'SlowDown'
          : `Http${status}`);
  return new S3ResponseError(code, `${what}: ${xmlTag(text, 'Message') ?? code} (HTTP ${status})`, status);
}

export type S3Method = 'GET' | 'PUT' | 'HEAD';

export class S3Requests {
  private readonly signer: SigV4Signer;
  private readonly agent: http.Agent;
  private readonly transport: typeof http | typeof https;
  private readonly endpoint: URL;
  private readonly port: number | undefined;
  private readonly pathStyle: boolean;

  constructor(remote: RemoteConfig, opts: { maxSockets?: number } = {}) {
    this.endpoint = new URL(remote.endpoint ?? `https://s3.${remote.region}.amazonaws.com`);
    this.port = this.endpoint.port ? Number(this.endpoint.port) : undefined;
    this.pathStyle = remote.forcePathStyle ?? remote.endpoint !== undefined;
    this.transport = this.endpoint.protocol === 'https:' ? https : http;
    this.agent = new this.transport.Agent({ keepAlive: true, maxSockets: opts.maxSockets ?? 256 });
    const credentials =
      remote.accessKeyId && remote.secretAccessKey
        ? {
            accessKeyId: remote.accessKeyId,
            secretAccessKey: remote.secretAccessKey,
            sessionToken: remote.sessionToken,
          }
        : ((remote.profile
            ? fromIni({ profile: remote.profile })
            : fromNodeProviderChain()) as () => Promise<SigV4Credentials>);
    this.signer = new SigV4Signer({ service: 's3', region: remote.region, credentials });
  }

  private target(bucket: string, key: string | undefined): { hostname: string; host: string; path: string } {
    const port = this.port;
    const rest = key === undefined ? '' : encodeKey(key);
    // Virtual-hosted style on AWS (bucket names with dots would break TLS names, so those stay path-style).
    if (!this.pathStyle && !bucket.includes('.')) {
      const hostname = `${bucket}.${this.endpoint.hostname}`;
      return { hostname, host: port ? `${hostname}:${port}` : hostname, path: `/${rest}` };
    }
    return {
      hostname: this.endpoint.hostname,
      host: this.endpoint.host,
      path: key === undefined ? `/${bucket}` : `/${bucket}/${rest}`,
    };
  }

  /** One signed request; resolves with the answer whatever its status (the caller checks it). */
  async send(
    method: S3Method,
    bucket: string,
    key: string | undefined,
    headers: Record<string, string>,
    body: Readable | Buffer | undefined,
    signal: AbortSignal | undefined,
    query?: Record<string, string>,
  ): Promise<IncomingMessage> {
    signal?.throwIfAborted();
    const t = this.target(bucket, key);
    const creds = this.signer.credentialsNow() ?? (await this.signer.credentials());
    const signed = this.signer.sign(
      {
        method,
        host: t.host,
        path: t.path,
        query,
        // UNSIGNED-PAYLOAD: the body is streamed, so it cannot be hashed before it is sent; S3
        // accepts this, and integrity is checked end to end with the ETag instead.
        // A PUT without a body (COPY) says so: otherwise Node sends it chunked, with the terminating
        // chunk in a second packet that waits on a delayed ACK.
        headers: {
          'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
          ...(method === 'PUT' && body === undefined ? { 'content-length': '0' } : {}),
          ...headers,
        },
      },
      creds,
    );
    const qs = query ? canonicalQuery(query) : '';
    return new Promise<IncomingMessage>((resolve, reject) => {
      const req = this.transport.request(
        {
          hostname: t.hostname,
          port: this.port,
          method,
          path: qs ? `${t.path}?${qs}` : t.path,
          headers: signed,
          agent: this.agent,
        },
        (res) => {
          (res as IncomingMessage & { method?: string }).method = method;
          resolve(res);
        },
      );
      if (signal) abortable(req, signal);
      req.on('error', reject);
      if (body === undefined) req.end();
      else if (Buffer.isBuffer(body)) req.end(body);
      else {
        body.on('error', (err) => req.destroy(err));
        body.pipe(req);
      }
    });
  }

  /** GET an object's bytes as a stream; an answer other than 200 is thrown as an S3ResponseError. */
  async getStream(
    bucket: string,
    key: string,
    opts: { headers?: Record<string, string>; signal?: AbortSignal } = {},
  ): Promise<IncomingMessage> {
    const res = await this.send('GET', bucket, key, opts.headers ?? {}, undefined, opts.signal);
    if (res.statusCode !== 200) throw await errorFrom(res, `GET ${bucket}/${key}`);
    return res;
  }

  destroy(): void {
    this.agent.destroy();
  }
}

const shared = new Map<string, S3Requests>();

/**
 * One S3Requests per remote and process (keep-alive sockets are reused only through the same
 * agent), keyed by what the remote says, as shared/s3-clients.ts keys the SDK's clients.
 */
export function sharedS3Requests(remote: RemoteConfig, opts: { maxSockets?: number } = {}): S3Requests {
  const key = JSON.stringify([remote, opts.maxSockets ?? 256]);
  let requests = shared.get(key);
  if (!requests) {
    requests = new S3Requests(remote, opts);
    shared.set(key, requests);
  }
  return requests;
}
