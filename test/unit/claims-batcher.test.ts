/**
 * The claims batcher's rule (worker/jobs/uploads/claims-batcher.ts) against a recording peer:
 * when a space's batch goes, what one request carries, how each caller's share of a publish is
 * settled, and a batch refused as a whole tried again as one. The batcher against the real peers,
 * inside the worker, is test/uploads/claims-batcher.test.ts.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConvoyError, ThrottledError } from '../../shared/errors.js';
import { ClaimsBatcher, type ClaimsPeer, fits, shouldSend } from '../../worker/jobs/uploads/claims-batcher.js';
import type { ClaimToPublish, FoundClaim } from '../../worker/jobs/uploads/ucan.js';

const LIMITS = { windowMs: 50, maxCalls: 4, maxUnits: 6, attempts: 3 };
const mh = (n: number) => new Uint8Array([0x12, 0x01, n]);
const index = (root: string): ClaimToPublish => ({ type: 'index', root, index: `idx-${root}` });
/** let the batcher's sends and the peer's answers run, no window's timer advanced */
const settle = () => vi.advanceTimersByTimeAsync(0);

/** A peer that records each request and answers from a script (default: no claims, all taken). */
class RecordingPeer implements ClaimsPeer {
  queries: Array<{ multihashes: number[]; space?: string }> = [];
  publishes: ClaimToPublish[][] = [];
  failNext: unknown[] = [];
  refuse = new Set<string>();
  async queryClaims(multihashes: Uint8Array[], space?: string): Promise<FoundClaim[]> {
    this.queries.push({ multihashes: multihashes.map((m) => m[2]!), space });
    const fail = this.failNext.shift();
    if (fail) throw fail;
    return multihashes.map((m) => ({ type: 'assert/location', content: String(m[2]) }));
  }
  async publishClaimsSettled(claims: ClaimToPublish[]): Promise<Array<ConvoyError | undefined>> {
    this.publishes.push(claims);
    const fail = this.failNext.shift();
    if (fail) throw fail;
    return claims.map((c) =>
      c.type === 'index' && this.refuse.has(c.root)
        ? new ConvoyError('INDEX_PUBLISH_FAILED', `indexer: ClaimRefused: ${c.root}`, { retryable: false })
        : undefined,
    );
  }
}

afterEach(() => void vi.useRealTimers());

describe('claims batcher: the rule', () => {
  it('a batch goes when full, or when every upload of the space in flight is waiting in it', () => {
    expect(shouldSend({ inFlight: 3, waiting: 2 }, 2, LIMITS)).toBe(false);
    expect(shouldSend({ inFlight: 3, waiting: 3 }, 2, LIMITS)).toBe(true); // the third waits in the other kind's batch
    expect(shouldSend({ inFlight: 9, waiting: 4 }, 4, LIMITS)).toBe(true); // maxCalls
    expect(shouldSend({ inFlight: 0, waiting: 1 }, 1, LIMITS)).toBe(true); // a caller that did not enter
    expect(fits(4, 2, 2, LIMITS)).toBe(true);
    expect(fits(5, 2, 2, LIMITS)).toBe(false);
    expect(fits(0, 0, 99, LIMITS)).toBe(true); // an empty batch takes any call
  });
});

describe('claims batcher', () => {
  it('a lone upload waits for nothing: its query goes at once', async () => {
    vi.useFakeTimers();
    const peer = new RecordingPeer();
    const b = new ClaimsBatcher(peer, LIMITS);
    const through = b.enter('s1');
    const q = b.queryClaims([mh(1), mh(2)], 's1');
    await settle();
    expect(peer.queries).toEqual([{ multihashes: [1, 2], space: 's1' }]);
    expect((await q).map((c) => c.content)).toEqual(['1', '2']);
    through();
  });

  it("the space's queries wait for its other uploads in flight, then go as one (a shared shard asked once); other spaces apart", async () => {
    vi.useFakeTimers();
    const peer = new RecordingPeer();
    const b = new ClaimsBatcher(peer, LIMITS);
    const [a, c, d, other] = [b.enter('s1'), b.enter('s1'), b.enter('s1'), b.enter('s2')];
    const q1 = b.queryClaims([mh(1), mh(9)], 's1');
    const q2 = b.queryClaims([mh(2), mh(9)], 's1');
    const q3 = b.queryClaims([mh(7)], 's2'); // s2's only upload: at once
    await Promise.resolve();
    expect(peer.queries).toEqual([{ multihashes: [7], space: 's2' }]);
    const q4 = b.queryClaims([mh(3)], 's1'); // the third upload of s1: all three waiting
    await settle();
    expect(peer.queries).toHaveLength(2);
    expect(peer.queries[1]).toEqual({ multihashes: [1, 9, 2, 3], space: 's1' });
    const [r1, r2, r4] = await Promise.all([q1, q2, q4]);
    expect(r1).toBe(r2); // each picks its own content out of the one answer
    expect(r4.map((c) => c.content)).toContain('3');
    await q3;
    for (const t of [a, c, d, other]) t();
  });

  it('a batch goes after the window when not every upload of the space is waiting', async () => {
    vi.useFakeTimers();
    const peer = new RecordingPeer();
    const b = new ClaimsBatcher(peer, LIMITS);
    const through = [b.enter('s1'), b.enter('s1')];
    const q = b.queryClaims([mh(1)], 's1');
    await vi.advanceTimersByTimeAsync(LIMITS.windowMs - 1);
    expect(peer.queries).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(peer.queries).toHaveLength(1);
    await q;
    for (const t of through) t();
  });

  it('an upload of the space leaving lets the others waiting go', async () => {
    vi.useFakeTimers();
    const peer = new RecordingPeer();
    const b = new ClaimsBatcher(peer, LIMITS);
    const [a, c] = [b.enter('s1'), b.enter('s1')];
    const q = b.queryClaims([mh(1)], 's1');
    await Promise.resolve();
    expect(peer.queries).toHaveLength(0);
    c(); // the other upload is through (failed, say) without asking
    await settle();
    expect(peer.queries).toHaveLength(1);
    await q;
    a();
  });

  it('a call that would take the batch past maxUnits sends the batch first; maxCalls sends it at once', async () => {
    vi.useFakeTimers();
    const peer = new RecordingPeer();
    const b = new ClaimsBatcher(peer, LIMITS);
    const through = Array.from({ length: 10 }, () => b.enter('s1'));
    const big = [b.queryClaims([mh(1), mh(2), mh(3), mh(4)], 's1'), b.queryClaims([mh(5), mh(6), mh(7)], 's1')];
    await Promise.resolve();
    expect(peer.queries.map((q) => q.multihashes)).toEqual([[1, 2, 3, 4]]); // 4 + 3 > 6
    const small = [5, 6, 7].map((n) => b.queryClaims([mh(10 + n)], 's1')); // 4 calls with the one waiting
    await settle();
    expect(peer.queries.map((q) => q.multihashes)).toEqual([
      [1, 2, 3, 4],
      [5, 6, 7, 15, 16, 17],
    ]);
    await Promise.all([...big, ...small]);
    for (const t of through) t();
  });

  it("one request for the space's claims; a refused claim fails only its upload", async () => {
    const peer = new RecordingPeer();
    peer.refuse.add('r2');
    const b = new ClaimsBatcher(peer, LIMITS);
    const through = [b.enter('s1'), b.enter('s1'), b.enter('s1')];
    const results = await Promise.allSettled([
      b.publish('s1', [index('r1')]),
      b.publish('s1', [index('r2'), { type: 'location', shardMultihash: mh(2), location: 'x', size: 1, space: 's1' }]),
      b.publish('s1', [index('r3')]),
    ]);
    expect(peer.publishes.map((p) => p.length)).toEqual([4]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(((results[1] as PromiseRejectedResult).reason as ConvoyError).errorClass).toBe('INDEX_PUBLISH_FAILED');
    for (const t of through) t();
  });

  it('a batch throttled as a whole is tried again as one request; past its attempts every caller gets the throttle', async () => {
    const peer = new RecordingPeer();
    const b = new ClaimsBatcher(peer, { ...LIMITS, attempts: 3 });
    let through = [b.enter('s1'), b.enter('s1')];
    peer.failNext = [new ThrottledError('indexer: HTTP 429'), new ThrottledError('indexer: HTTP 429')];
    await Promise.all([b.publish('s1', [index('r1')]), b.publish('s1', [index('r2')])]);
    expect(peer.publishes.map((p) => p.map((c) => (c as { root: string }).root))).toEqual([
      ['r1', 'r2'],
      ['r1', 'r2'],
      ['r1', 'r2'],
    ]);
    for (const t of through) t();

    through = [b.enter('s1'), b.enter('s1')];
    peer.queries = [];
    peer.failNext = [1, 2, 3].map(() => new ThrottledError('indexer query: 429'));
    const results = await Promise.allSettled([b.queryClaims([mh(1)], 's1'), b.queryClaims([mh(2)], 's1')]);
    expect(peer.queries).toHaveLength(3);
    expect(results.map((r) => (r as PromiseRejectedResult).reason?.errorClass)).toEqual(['THROTTLED', 'THROTTLED']);
    for (const t of through) t();
  });

  it('a permanent refusal of the whole batch is not tried again', async () => {
    const peer = new RecordingPeer();
    const b = new ClaimsBatcher(peer, LIMITS);
    peer.failNext = [new ConvoyError('INDEXER_QUERY_FAILED', 'indexer query: 400', { retryable: false })];
    await expect(b.queryClaims([mh(1)], 's1')).rejects.toMatchObject({ errorClass: 'INDEXER_QUERY_FAILED' });
    expect(peer.queries).toHaveLength(1);
  });
});
