/**
 * AwsJsonRequests: signed requests of the AWS JSON 1.0 protocol (DynamoDB, SQS) over keep-alive
 * node:http(s), for the engine's requests per item (the item row's claim and completion, the
 * queue's receive and deletes): shared/dynamodb-document-client.ts and shared/sqs-client.ts
 * send their hot commands here and everything else through the SDK.
 *
 * Why not the SDK there: measured against dynalite (a conditional UpdateItem, 8 in flight, the
 * client's own CPU), the SDK's DynamoDBDocumentClient costs ~1.0-1.2 ms per request (its
 * middleware stack, schema serde, signer and endpoint rules: @smithy/core alone a third of it),
 * these requests ~0.3 ms. In bench:uploads the engine sends ~3.3 such requests per upload.
 *
 * What the SDK does and this keeps: the same wire request (JSON body, `x-amz-target`, SigV4 with
 * the body's SHA-256 in `x-amz-content-sha256`), the endpoint, region and credentials the SDK
 * client resolved (asked of the client once; temporary credentials refreshed), its retries of
 * throttling and transient faults (`maxAttempts` tries, full-jitter backoff) and nothing else,
 * and errors shaped like its service exceptions (`name` from the answer's `__type`,
 * `$metadata.httpStatusCode`, `$fault`, the answer's other fields), so the same classifier
 * (shared/errors.ts) and condition checks (state/conditions.ts) read them. Not kept: the SDK's
 * clock-skew correction (a host whose clock is 5 minutes off gets its requests refused; fleet
 * hosts keep time by NTP; the lean S3 requests of shared/s3-requests.ts run without it too).
 */
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { createHash } from 'node:crypto';
import { abortable } from './abortable-request.js';
import { readAll } from './s3-requests.js';
import { retryTransient } from './backoff.js';
import { ServiceUnavailableError, ThrottledError, type ConvoyError } from './errors.js';
import { SigV4Signer, type SigV4Credentials } from './sigv4.js';

/** An error answer, shaped like the SDK's service exceptions. */
export class AwsJsonError extends Error {
  readonly $metadata: { httpStatusCode: number; attempts?: number };
  readonly $fault: 'client' | 'server';
  constructor(type: string, message: string, status: number, fields: Record<string, unknown>) {
    super(message || type);
    Object.assign(this, fields);
    this.name = type;
    this.$metadata = { httpStatusCode: status };
    this.$fault = status >= 500 ? 'server' : 'client';
  }
}

/** What an SDK client resolved from its configuration; the lean requests use the same. */
export interface ResolvedSdkConfig {
  region: () => Promise<string>;
  credentials: () => Promise<SigV4Credentials>;
  /** the configured endpoint, when there is one */
  endpoint?: () => Promise<{ protocol: string; hostname: string; port?: number; path: string }>;
  /** the SDK's endpoint rules (the AWS endpoint for a region) */
  endpointProvider: (params: Record<string, unknown>) => { url: URL };
  useFipsEndpoint: () => Promise<boolean>;
  useDualstackEndpoint: () => Promise<boolean>;
}

export interface AwsJsonRequestsOptions {
  /** the signing name: `dynamodb`, `sqs` */
  service: string;
  /** the `x-amz-target` prefix: `DynamoDB_20120810`, `AmazonSQS` */
  targetPrefix: string;
  /** tries per request, the first included (the SDK client's `maxAttempts`) */
  maxAttempts: number;
  maxSockets?: number;
  /** headers the service's SDK client sends on every request (SQS: `x-amzn-query-mode`) */
  headers?: Record<string, string>;
}

interface Target {
  transport: typeof http | typeof https;
  agent: http.Agent;
  hostname: string;
  host: string;
  port: number | undefined;
  path: string;
  signer: SigV4Signer;
}

/** Socket idle timeout and connect timeout, as shared/clients.ts gives the SDK's handler. */
const REQUEST_TIMEOUT_MS = 120_000;
const CONNECT_TIMEOUT_MS = 5_000;

export class AwsJsonRequests {
  private target: Target | undefined;
  private resolving: Promise<Target> | undefined;

  constructor(
    private readonly config: ResolvedSdkConfig,
    private readonly opts: AwsJsonRequestsOptions,
  ) {}

  /**
   * One action (`GetItem`, `ReceiveMessage`): its answer's JSON, or the service's error, tried
   * again on throttling and transient faults as the SDK would.
   */
  async call<T>(action: string, input: object, signal?: AbortSignal): Promise<T> {
    const target = this.target ?? (await this.resolve());
    const body = JSON.stringify(input);
    let attempts = 0;
    const out = await retryTransient(
      () => {
        attempts++;
        return this.once<T>(target, action, body, signal);
      },
      { attempts: this.opts.maxAttempts, signal, final: notTransient, throwOriginal: true },
    ).catch((err: unknown) => {
      if (err instanceof AwsJsonError) err.$metadata.attempts = attempts;
      throw err;
    });
    return out;
  }

  private async once<T>(t: Target, action: string, body: string, signal: AbortSignal | undefined): Promise<T> {
    signal?.throwIfAborted();
    const creds = t.signer.credentialsNow() ?? (await t.signer.credentials());
    const headers = t.signer.sign(
      {
        method: 'POST',
        host: t.host,
        path: t.path,
        headers: {
          'content-type': 'application/x-amz-json-1.0',
          'x-amz-target': `${this.opts.targetPrefix}.${action}`,
          ...this.opts.headers,
          'content-length': String(Buffer.byteLength(body)),
          'x-amz-content-sha256': createHash('sha256').update(body).digest('hex'),
        },
      },
      creds,
    );
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = t.transport.request(
        { hostname: t.hostname, port: t.port, method: 'POST', path: t.path, headers, agent: t.agent },
        resolve,
      );
      if (signal) abortable(req, signal);
      req.setTimeout(REQUEST_TIMEOUT_MS, () =>
        req.destroy(
          Object.assign(new Error(`${action}: no answer in ${REQUEST_TIMEOUT_MS} ms`), { code: 'ETIMEDOUT' }),
        ),
      );
      req.on('socket', (socket) => {
        if (!socket.connecting) return;
        const timer = setTimeout(
          () =>
            req.destroy(
              Object.assign(new Error(`${action}: no connection in ${CONNECT_TIMEOUT_MS} ms`), { code: 'ETIMEDOUT' }),
            ),
          CONNECT_TIMEOUT_MS,
        );
        socket.once('connect', () => clearTimeout(timer));
        req.once('close', () => clearTimeout(timer));
      });
      req.on('error', reject);
      req.end(body);
    });
    const text = await readAll(res);
    const status = res.statusCode ?? 0;
    const json = text ? (parseJson(text, action, status) as Record<string, unknown>) : {};
    if (status === 200) return json as T;
    throw errorOf(json, status, action);
  }

  /** The endpoint, region and credentials, from the SDK client's configuration, once. */
  private resolve(): Promise<Target> {
    this.resolving ??= (async () => {
      const c = this.config;
      const region = await c.region();
      let url: URL;
      const configured = await c.endpoint?.();
      if (configured) {
        const port = configured.port ? `:${configured.port}` : '';
        url = new URL(`${configured.protocol}//${configured.hostname}${port}${configured.path || '/'}`);
      } else {
        url = c.endpointProvider({
          Region: region,
          UseFIPS: await c.useFipsEndpoint(),
          UseDualStack: await c.useDualstackEndpoint(),
        }).url;
      }
      const transport = url.protocol === 'https:' ? https : http;
      this.target = {
        transport,
        agent: new transport.Agent({ keepAlive: true, maxSockets: this.opts.maxSockets ?? 128 }),
        hostname: url.hostname,
        host: url.host,
        port: url.port ? Number(url.port) : undefined,
        path: url.pathname || '/',
        signer: new SigV4Signer({ service: this.opts.service, region, credentials: c.credentials }),
      };
      return this.target;
    })();
    return this.resolving;
  }

  destroy(): void {
    this.target?.agent.destroy();
  }
}

/** The SDK retries throttling and transient faults (5xx, network) and nothing else. */
function notTransient(e: ConvoyError): boolean {
  return !(e instanceof ThrottledError || e instanceof ServiceUnavailableError);
}

function parseJson(text: string, action: string, status: number): unknown {
  try {
    return JSON.parse(text);
  } catch {
    // a proxy's HTML page, a truncated answer: a server fault when the status says so
    throw new AwsJsonError(
      status >= 500 ? 'InternalServerError' : 'SerializationException',
      `${action}: the answer is not JSON (HTTP ${status})`,
      status || 500,
      {},
    );
  }
}

/** `__type` is `com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException`: the name follows `#`. */
function errorOf(json: Record<string, unknown>, status: number, action: string): AwsJsonError {
  const type = String(json.__type ?? json.code ?? `Http${status}`);
  const name = type.slice(type.lastIndexOf('#') + 1);
  const message = String(json.message ?? json.Message ?? `${action}: ${name} (HTTP ${status})`);
  const { __type: _t, message: _m, Message: _M, ...fields } = json;
  return new AwsJsonError(name, message, status, fields);
}
