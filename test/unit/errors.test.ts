/**
 * classifyError decides retry versus fail for everything a handler can throw. The inputs here are
 * the real SDK exception classes (as the SDK throws them), Node network errors and odd throwables.
 */
import { describe, expect, it } from 'vitest';
import {
  ProvisionedThroughputExceededException,
  InternalServerError,
  ResourceNotFoundException,
} from '@aws-sdk/client-dynamodb';
import { S3ServiceException } from '@aws-sdk/client-s3';
import {
  AccessDeniedError,
  ConvoyError,
  InputError,
  LeaseLostError,
  NotFoundError,
  ServiceUnavailableError,
  ThrottledError,
  classifyError,
  describeError,
  toError,
  type ErrorClass,
} from '../../shared/errors.js';

// classes outside the registry, to show errors pass through whatever their class
const unregistered = (name: string) => name as ErrorClass;

const meta = (httpStatusCode: number) => ({ httpStatusCode, requestId: 'r', attempts: 1, totalRetryDelay: 0 });
function s3Error(name: string, status: number, message = name): S3ServiceException {
  return new S3ServiceException({
    name,
    $fault: status >= 500 ? 'server' : 'client',
    $metadata: meta(status),
    message,
  });
}
function netError(code: string, message = `connect ${code} 127.0.0.1:9`): Error {
  return Object.assign(new Error(message), { code, errno: -111, syscall: 'connect' });
}

describe('classifyError', () => {
  it('throttling by name, by code and by HTTP 429: THROTTLED, retryable', () => {
    const cases = [
      new ProvisionedThroughputExceededException({ message: 'slow down', $metadata: meta(400) }),
      s3Error('SlowDown', 503),
      s3Error('ThrottlingException', 400),
      s3Error('TooManyRequestsException', 400),
      Object.assign(new Error('rate exceeded'), { code: 'RequestLimitExceeded' }),
      s3Error('SomethingNew', 429),
    ];
    for (const c of cases) {
      const e = classifyError(c);
      expect(e, c.name).toBeInstanceOf(ThrottledError);
      expect(e.errorClass).toBe('THROTTLED');
      expect(e.retryable).toBe(true);
      expect(e.cause).toBe(c);
    }
  });

  it('5xx: SERVICE_UNAVAILABLE, retryable, with the status in the message', () => {
    for (const c of [
      s3Error('InternalError', 500),
      s3Error('ServiceUnavailable', 503),
      new InternalServerError({ message: 'boom', $metadata: meta(500) }),
    ]) {
      const e = classifyError(c);
      expect(e, c.name).toBeInstanceOf(ServiceUnavailableError);
      expect(e.retryable).toBe(true);
      expect(e.message).toContain(String(c.$metadata.httpStatusCode));
    }
  });

  it('network faults: the code itself, a cause chain, and an AggregateError of refused connections', () => {
    const direct = netError('ECONNREFUSED');
    const wrapped = new Error('request failed', { cause: new Error('socket', { cause: netError('ECONNRESET') }) });
    const fetchStyle = new TypeError('fetch failed', { cause: netError('ECONNREFUSED') });
    const aggregate = new AggregateError(
      [netError('ECONNREFUSED'), netError('ECONNREFUSED', 'connect ECONNREFUSED ::1:9')],
      '',
    );
    const timeout = Object.assign(new Error('timed out'), { name: 'TimeoutError' });
    for (const c of [direct, wrapped, fetchStyle, aggregate, timeout, netError('ENOTFOUND'), netError('ETIMEDOUT')]) {
      const e = classifyError(c);
      expect(e, `${c.name}: ${c.message}`).toBeInstanceOf(ServiceUnavailableError);
      expect(e.errorClass).toBe('SERVICE_UNAVAILABLE');
      expect(e.retryable).toBe(true);
    }
  });

  it('403 and refused credentials: ACCESS_DENIED, not retried', () => {
    for (const c of [
      s3Error('AccessDenied', 403),
      s3Error('InvalidAccessKeyId', 403),
      s3Error('SignatureDoesNotMatch', 403),
      s3Error('Forbidden', 403),
    ]) {
      const e = classifyError(c);
      expect(e, c.name).toBeInstanceOf(AccessDeniedError);
      expect(e.errorClass).toBe('ACCESS_DENIED');
      expect(e.retryable).toBe(false);
    }
  });

  it('an AbortError (a signal fired): ABORTED, retryable', () => {
    const ac = new AbortController();
    ac.abort();
    const domAbort = ac.signal.reason as Error; // DOMException named AbortError
    const sdkAbort = Object.assign(new Error('Request aborted'), { name: 'AbortError' });
    for (const c of [domAbort, sdkAbort]) {
      const e = classifyError(c);
      expect(e.errorClass).toBe('ABORTED');
      expect(e.retryable).toBe(true);
    }
  });

  it('anything unknown: UNKNOWN, retryable (a few attempts, then failed), message kept', () => {
    const e = classifyError(
      new ResourceNotFoundException({ message: 'Requested resource not found', $metadata: meta(400) }),
    );
    expect(e.errorClass).toBe('UNKNOWN');
    expect(e.retryable).toBe(true);
    expect(e.message).toContain('Requested resource not found');
    const s = classifyError('a thrown string');
    expect(s.errorClass).toBe('UNKNOWN');
    expect(s.message).toContain('a thrown string');
    expect(classifyError({ weird: true }).message).toContain('weird');
    expect(classifyError(undefined).errorClass).toBe('UNKNOWN');
    expect(classifyError(null).errorClass).toBe('UNKNOWN');
  });

  it('our own errors pass through unchanged', () => {
    const cases = [
      new InputError('bad'),
      new NotFoundError('SOURCE_OBJECT_MISSING', 'gone'),
      new LeaseLostError('i1'),
      new ConvoyError(unregistered('CUSTOM'), 'x', { retryable: true }),
    ];
    for (const c of cases) expect(classifyError(c)).toBe(c);
    expect(new NotFoundError(unregistered('X'), 'y').retryable).toBe(false);
    expect(new InputError('bad').errorClass).toBe('BAD_INPUT');
  });
});

describe('toError and describeError', () => {
  it('coerces anything to an Error, even unserialisable values', () => {
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    expect(toError(circular)).toBeInstanceOf(Error);
    expect(toError(42).message).toBe('42');
    const e = new Error('x');
    expect(toError(e)).toBe(e);
  });

  it('describes on one bounded line for item rows', () => {
    const d = describeError(new ConvoyError(unregistered('BIG'), 'm'.repeat(5_000), { retryable: true }));
    expect(d).toEqual({ errorClass: 'BIG', message: 'm'.repeat(1_000), retryable: true });
  });
});
