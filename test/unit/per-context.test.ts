/**
 * shared/per-context.ts: what a process keeps per run (a table's key schema, a limit's share, a
 * rate control) belongs to the context it was made for. Two contexts in one process, as two test
 * files in one reused fork, use the same run id against different stacks.
 */
import { describe, expect, it } from 'vitest';
import { PerContext } from '../../shared/per-context.js';

describe('PerContext', () => {
  it('keeps one value per context and key: another context with the same run id makes its own', () => {
    const made: string[] = [];
    const make = (label: string, stack: string) => () => {
      made.push(label);
      return { stack };
    };
    const cache = new PerContext<{ stack: string }>();
    const a = { stack: 'a' };
    const b = { stack: 'b' };
    const first = cache.get(a, 'r1', make('a', a.stack));
    expect(cache.get(a, 'r1', make('a again', 'wrong'))).toBe(first);
    expect(cache.get(b, 'r1', make('b', b.stack))).toEqual({ stack: 'b' });
    expect(made).toEqual(['a', 'b']);
    // `of` is the context's own map: deleting there (a failed lookup) leaves the other context's
    cache.of(a).delete('r1');
    expect(cache.of(a).has('r1')).toBe(false);
    expect(cache.of(b).get('r1')).toEqual({ stack: 'b' });
  });

  it('memo shares a pending lookup between callers and forgets one that failed, so the next caller tries again', async () => {
    const cache = new PerContext<Promise<string>>();
    const ctx = {};
    let calls = 0;
    let fail!: (err: Error) => void;
    const failing = () => {
      calls++;
      return new Promise<string>((_, reject) => (fail = reject));
    };
    const first = cache.memo(ctx, 'r1', failing);
    expect(cache.memo(ctx, 'r1', failing)).toBe(first);
    fail(new Error('throttled'));
    await expect(first).rejects.toThrow('throttled');
    expect(calls).toBe(1);
    const second = cache.memo(ctx, 'r1', async () => {
      calls++;
      return 'keys';
    });
    await expect(second).resolves.toBe('keys');
    // a settled value stays: no third lookup
    expect(cache.memo(ctx, 'r1', failing)).toBe(second);
    expect(calls).toBe(2);
  });
});
