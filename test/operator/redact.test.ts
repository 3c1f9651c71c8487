/**
 * The one redaction helper (shared/redact.ts) that the CLI's error printer and the logger share:
 * credentials in any URL are masked, the host and path stay (they are what an operator needs).
 */
import { describe, expect, it } from 'vitest';
import { redact, redactDeep } from '../../shared/redact.js';

describe('redact', () => {
  it('masks user and password of URLs anywhere in a text, and nothing else', () => {
    expect(redact('cannot reach http://USER:SECRETPASS@127.0.0.1:1/bucket (ECONNREFUSED)')).toBe(
      'cannot reach http://[redacted]@127.0.0.1:1/bucket (ECONNREFUSED)',
    );
    expect(redact('postgres://app:p@ss:w0rd@db.internal:5432/events and s3://b/k')).toBe(
      'postgres://[redacted]@db.internal:5432/events and s3://b/k',
    );
    expect(redact('https://AKIA123@minio:9000')).toBe('https://[redacted]@minio:9000');
    for (const same of ['mail alice@example.com', 'http://host/path?who=a@b', 'did:mailto:example.com:alice', 'no url'])
      expect(redact(same)).toBe(same);
  });

  it('reaches strings inside log objects and errors without touching the rest', () => {
    const err = new Error('GET http://u:SECRET@h:1/x failed');
    const out = redactDeep({
      runId: 'r',
      n: 3,
      nested: { endpoint: 'http://u:SECRET@h:1' },
      list: ['http://u:SECRET@h'],
      err,
    }) as Record<string, unknown>;
    expect(JSON.stringify(out)).not.toContain('SECRET');
    expect(out).toMatchObject({ runId: 'r', n: 3, nested: { endpoint: 'http://[redacted]@h:1' } });
    expect((out.err as Error).message).toBe('GET http://[redacted]@h:1/x failed');
    expect(out.err).toBeInstanceOf(Error);
    const clean = { a: 'x', b: [1] };
    expect(redactDeep(clean)).toBe(clean);
  });
});
