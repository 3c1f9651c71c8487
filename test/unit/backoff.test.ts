import { describe, expect, it } from 'vitest';
import { DEFAULT_BACKOFF, drainBatch, fullJitterDelayMs, retryTransient } from '../../shared/backoff.js';
import { ConvoyError } from '../../shared/errors.js';

describe('fullJitterDelayMs', () => {
  const opts = { baseMs: 100, capMs: 1_000 };

  it('draws uniformly in [0, base * 2^(attempt-1)): the bounds are reached with the extreme draws', () => {
    expect(fullJitterDelayMs(1, opts, () => 0)).toBe(0);
    expect(fullJitterDelayMs(1, opts, () => 0.999999)).toBe(99);
    expect(fullJitterDelayMs(2, opts, () => 0.999999)).toBe(199);
    expect(fullJitterDelayMs(3, opts, () => 0.5)).toBe(200);
    expect(fullJitterDelayMs(4, opts, () => 0.999999)).toBe(799);
  });

  it('never exceeds the cap, however many attempts (no overflow to Infinity or NaN)', () => {
    for (const attempt of [5, 6, 10, 50, 1_000, 10_000]) {
      const d = fullJitterDelayMs(attempt, opts, () => 0.999999);
      expect(d, `attempt ${attempt}`).toBeLessThan(opts.capMs);
      expect(d).toBeGreaterThanOrEqual(opts.capMs - 1);
      expect(Number.isFinite(d)).toBe(true);
    }
  });

  it('attempt 0 or negative is treated as the first retry', () => {
    expect(fullJitterDelayMs(0, opts, () => 0.999999)).toBe(99);
    expect(fullJitterDelayMs(-3, opts, () => 0.999999)).toBe(99);
  });

  it('with the real random source every delay is an integer within [0, min(cap, exp))', () => {
    for (let attempt = 1; attempt <= 12; attempt++) {
      const exp = Math.min(DEFAULT_BACKOFF.capMs, DEFAULT_BACKOFF.baseMs * 2 ** (attempt - 1));
      for (let i = 0; i < 200; i++) {
        const d = fullJitterDelayMs(attempt);
        expect(Number.isInteger(d)).toBe(true);
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThan(exp);
      }
    }
  });

  it('is full jitter, not equal jitter: draws spread over the whole range', () => {
    const draws = Array.from({ length: 2_000 }, () => fullJitterDelayMs(3, opts));
    expect(Math.min(...draws)).toBeLessThan(40);
    expect(Math.max(...draws)).toBeGreaterThan(360);
  });

  it('a zero base gives no delay (tests and "retry at once")', () => {
    expect(fullJitterDelayMs(7, { baseMs: 0, capMs: 1_000 }, () => 0.9)).toBe(0);
  });
});

describe('drainBatch (every BatchWrite/BatchGet loop: what the service hands back is sent again)', () => {
  const fast = { baseMs: 1, capMs: 2 };

  it('re-sends only what came back, until nothing is left, and sends each entry exactly once in the end', async () => {
    const calls: number[][] = [];
    const accepted: number[] = [];
    await drainBatch(
      [1, 2, 3, 4, 5, 6, 7],
      async (pending) => {
        calls.push(pending);
        const keep = pending.slice(0, 2); // the service takes two a call, hands the rest back
        accepted.push(...keep);
        return pending.slice(2);
      },
      { backoff: fast },
    );
    expect(calls).toEqual([[1, 2, 3, 4, 5, 6, 7], [3, 4, 5, 6, 7], [5, 6, 7], [7]]);
    expect(accepted).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('an empty batch sends nothing', async () => {
    let sent = 0;
    await drainBatch([], async () => {
      sent++;
      return [];
    });
    expect(sent).toBe(0);
  });

  it("gives up after maxRetries with the caller's error, naming what is left", async () => {
    let sent = 0;
    const send = async (p: string[]) => {
      sent++;
      return p;
    };
    const run = drainBatch(['a', 'b'], send, {
      backoff: fast,
      maxRetries: 3,
      exhausted: (left) => new Error(`${left} left`),
    });
    await expect(run).rejects.toThrow('2 left');
    expect(sent).toBe(4); // the first send and three retries
  });

  it("an aborted signal stops it between sends with the signal's reason", async () => {
    const ac = new AbortController();
    let sent = 0;
    const run = drainBatch(
      ['a'],
      async (p) => {
        if (++sent === 2) ac.abort(new Error('lease lost'));
        return p;
      },
      { backoff: fast, signal: ac.signal },
    );
    await expect(run).rejects.toThrow('lease lost');
    expect(sent).toBe(2);
  });
});

describe('retryTransient (a lean client standing in for the SDK retry middleware)', () => {
  const noWait = { baseMs: 0, capMs: 0 };
  const s3Error = (name: string, status: number) =>
    Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } });

  it('tries a throttled or failing service again, up to its attempts, then throws the last error classified', async () => {
    const thrown: unknown[] = [];
    const retried: string[] = [];
    let calls = 0;
    const result = await retryTransient(
      async () => {
        calls++;
        if (calls === 1) throw s3Error('SlowDown', 503);
        if (calls === 2) throw Object.assign(new Error('reset'), { code: 'ECONNRESET' });
        return 'ok';
      },
      { backoff: noWait, onRetry: (e) => void retried.push(e.errorClass) },
    );
    expect(result).toBe('ok');
    expect(retried).toEqual(['THROTTLED', 'SERVICE_UNAVAILABLE']);
    calls = 0;
    await retryTransient(
      async () => {
        calls++;
        throw s3Error('InternalError', 500);
      },
      { backoff: noWait, attempts: 3 },
    ).catch((e) => thrown.push(e));
    expect(calls).toBe(3);
    expect(thrown[0]).toBeInstanceOf(ConvoyError);
    expect((thrown[0] as ConvoyError).errorClass).toBe('SERVICE_UNAVAILABLE');
  });

  it('passes a permanent error, or one the caller calls final, at once', async () => {
    let calls = 0;
    await expect(
      retryTransient(
        async () => {
          calls++;
          throw s3Error('AccessDenied', 403);
        },
        { backoff: noWait },
      ),
    ).rejects.toMatchObject({ errorClass: 'ACCESS_DENIED' });
    expect(calls).toBe(1);
    calls = 0;
    await expect(
      retryTransient(
        async () => {
          calls++;
          throw s3Error('NotFound', 404); // retryable as UNKNOWN, but final for this caller
        },
        { backoff: noWait, final: (e) => (e.cause as { name?: string }).name === 'NotFound' },
      ),
    ).rejects.toMatchObject({ errorClass: 'UNKNOWN' });
    expect(calls).toBe(1);
  });

  it('stops waiting, and trying, when its signal aborts (a lost lease)', async () => {
    const controller = new AbortController();
    let calls = 0;
    const result = retryTransient(
      async () => {
        calls++;
        setImmediate(() => controller.abort(new Error('lease lost')));
        throw s3Error('SlowDown', 503);
      },
      { backoff: { baseMs: 60_000, capMs: 60_000 }, signal: controller.signal },
    );
    // a minute of backoff, ended by the abort: the throttled error, after one try
    await expect(result).rejects.toMatchObject({ errorClass: 'THROTTLED' });
    expect(calls).toBe(1);
  }, 5_000);
});
