/**
 * One error hierarchy for the whole system.
 *
 * Every error that can end an item carries an `errorClass` (a stable, upper-case name used in
 * item rows, reports and the monitor's failure breakdown, one of the registry in
 * ./error-classes.ts) and a `retryable` flag (the worker's only input for "back off and try
 * again" versus "fail the item now"). `classifyError` is the one place that turns anything thrown
 * (SDK errors, fetch errors, strings) into a ConvoyError.
 */
import type { ErrorClass } from './error-classes.js';

export type { ErrorClass } from './error-classes.js';

export interface ErrorContext {
  [key: string]: unknown;
}

export class ConvoyError extends Error {
  override name = 'ConvoyError';
  readonly errorClass: ErrorClass;
  readonly retryable: boolean;
  readonly context: ErrorContext;

  constructor(
    errorClass: ErrorClass,
    message: string,
    opts: { retryable?: boolean; cause?: unknown; context?: ErrorContext } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.errorClass = errorClass;
    this.retryable = opts.retryable ?? false;
    this.context = opts.context ?? {};
  }
}

/** Bad user input (options, config files, specs). The CLI prints the message and exits 2. */
export class InputError extends ConvoyError {
  override name = 'InputError';
  constructor(message: string, opts: { cause?: unknown; context?: ErrorContext } = {}) {
    super('BAD_INPUT', message, { ...opts, retryable: false });
  }
}

/** A peer or service is down or answered 5xx; worth retrying after a backoff. */
export class ServiceUnavailableError extends ConvoyError {
  override name = 'ServiceUnavailableError';
  constructor(message: string, opts: { cause?: unknown; context?: ErrorContext } = {}) {
    super('SERVICE_UNAVAILABLE', message, { ...opts, retryable: true });
  }
}

/** Throttling (503 SlowDown, ProvisionedThroughputExceeded, 429). Retryable. */
export class ThrottledError extends ConvoyError {
  override name = 'ThrottledError';
  constructor(message: string, opts: { cause?: unknown; context?: ErrorContext } = {}) {
    super('THROTTLED', message, { ...opts, retryable: true });
  }
}

/** The item's lease was taken over or expired: stop all side effects for it at once. */
export class LeaseLostError extends ConvoyError {
  override name = 'LeaseLostError';
  constructor(itemId: string, opts: { cause?: unknown } = {}) {
    super('LEASE_LOST', `lease on item ${itemId} was lost`, { ...opts, retryable: true, context: { itemId } });
  }
}

/** Credentials were refused. Not retried: a requeue after fixing access retries it. */
export class AccessDeniedError extends ConvoyError {
  override name = 'AccessDeniedError';
  constructor(message: string, opts: { cause?: unknown; context?: ErrorContext } = {}) {
    super('ACCESS_DENIED', message, { ...opts, retryable: false });
  }
}

/** Something the item needs does not exist (object deleted, bucket gone). Not retried. */
export class NotFoundError extends ConvoyError {
  override name = 'NotFoundError';
  constructor(errorClass: ErrorClass, message: string, opts: { cause?: unknown; context?: ErrorContext } = {}) {
    super(errorClass, message, { ...opts, retryable: false });
  }
}

/** Anything thrown becomes an Error first (a thrown string or object would lose its stack). */
export function toError(thrown: unknown): Error {
  if (thrown instanceof Error) return thrown;
  if (typeof thrown === 'string') return new Error(thrown);
  try {
    return new Error(JSON.stringify(thrown));
  } catch {
    return new Error(String(thrown));
  }
}

interface SdkLikeError extends Error {
  $metadata?: { httpStatusCode?: number };
  $fault?: 'client' | 'server';
  code?: string;
  Code?: string;
}

const THROTTLING_NAMES = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'TooManyRequestsException',
  'RequestThrottled',
  'RequestThrottledException',
]);

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'TimeoutError',
  'RequestTimeout',
]);

/**
 * Decide what an arbitrary failure means for an item. Order matters: our own classes first, then
 * throttling, then network faults and 5xx (retryable), then 403 (permanent), then the rest, which
 * is treated as retryable-unknown (a few attempts, then `failed` with class UNKNOWN) because
 * failing an item permanently for an error we do not understand loses more than retrying it.
 */
export function classifyError(thrown: unknown): ConvoyError {
  if (thrown instanceof ConvoyError) return thrown;
  const err = toError(thrown) as SdkLikeError;
  const name = err.name ?? '';
  const code = err.code ?? err.Code ?? '';
  const status = err.$metadata?.httpStatusCode;
  if (err.name === 'AbortError') {
    return new ConvoyError('ABORTED', err.message, { retryable: true, cause: err });
  }
  if (THROTTLING_NAMES.has(name) || THROTTLING_NAMES.has(code) || status === 429) {
    return new ThrottledError(`${name || code}: ${err.message}`, { cause: err });
  }
  if (NETWORK_CODES.has(code) || NETWORK_CODES.has(name) || hasNetworkCause(err)) {
    return new ServiceUnavailableError(`${name}: ${err.message}`, { cause: err });
  }
  if (status !== undefined && status >= 500) {
    return new ServiceUnavailableError(`${name} (HTTP ${status}): ${err.message}`, { cause: err });
  }
  if (name === 'AccessDenied' || name === 'InvalidAccessKeyId' || name === 'SignatureDoesNotMatch' || status === 403) {
    return new AccessDeniedError(`${name}: ${err.message}`, { cause: err });
  }
  return new ConvoyError('UNKNOWN', `${name}: ${err.message}`, { retryable: true, cause: err });
}

/**
 * A network fault wrapped by a library: look down the `cause` chain, and into AggregateError's
 * `errors` (Node's happy-eyeballs connect can fail with one error per address tried).
 */
function hasNetworkCause(err: Error, depth = 0): boolean {
  if (depth > 4) return false;
  const inner = (err as { errors?: unknown }).errors;
  if (Array.isArray(inner)) {
    for (const e of inner) {
      const c = e as { code?: string } | undefined;
      if ((c?.code && NETWORK_CODES.has(c.code)) || (e instanceof Error && hasNetworkCause(e, depth + 1))) return true;
    }
  }
  const cause = (err as { cause?: unknown }).cause as { code?: string } | undefined;
  if (!cause) return false;
  if (cause.code && NETWORK_CODES.has(cause.code)) return true;
  return cause instanceof Error && hasNetworkCause(cause, depth + 1);
}

/**
 * A short, single-line description safe for logs and item rows (no stacks, bounded length), with
 * the HTTP status of the failed response when the error or one of its causes carries one.
 */
export function describeError(err: ConvoyError): {
  errorClass: ErrorClass;
  message: string;
  retryable: boolean;
  httpStatus?: number;
} {
  const httpStatus = httpStatusOf(err);
  return {
    errorClass: err.errorClass,
    message: err.message.slice(0, 1000),
    retryable: err.retryable,
    ...(httpStatus === undefined ? {} : { httpStatus }),
  };
}

/**
 * The HTTP status behind an error: an SDK error's `$metadata.httpStatusCode`, or a `httpStatus` /
 * `status` a peer client put in the error's context, looked for down the `cause` chain.
 */
export function httpStatusOf(err: unknown, depth = 0): number | undefined {
  if (!err || typeof err !== 'object' || depth > 5) return undefined;
  const e = err as SdkLikeError & { context?: ErrorContext; cause?: unknown };
  const candidates = [e.$metadata?.httpStatusCode, e.context?.httpStatus, e.context?.status];
  const found = candidates.find((c): c is number => typeof c === 'number' && c >= 100 && c <= 599);
  return found ?? httpStatusOf(e.cause, depth + 1);
}
