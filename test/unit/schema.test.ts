import { describe, expect, it } from 'vitest';
import { metaKeys, STATUS_SHARDS, statusKey, statusKeysFor, statusShard } from '../../state/schema.js';

describe('statusShard', () => {
  it('is stable: pinned values (changing the hash would strand existing index rows)', () => {
    // FNV-1a 32-bit reference values: fnv1a("") = 0x811c9dc5, fnv1a("a") = 0xe40c292c, fnv1a("foobar") = 0xbf9cf968
    expect(statusShard('')).toBe(0x811c9dc5 % STATUS_SHARDS);
    expect(statusShard('a')).toBe(0xe40c292c % STATUS_SHARDS);
    expect(statusShard('foobar')).toBe(0xbf9cf968 % STATUS_SHARDS);
  });

  it('is deterministic and within range, including non-ASCII ids', () => {
    for (const id of [
      'range:bucket:a..b',
      'upload:did:key:z6Mk:bafy',
      'segment:3/16',
      'rows:t:0..999',
      'ключ/日本語',
      '🚚',
    ]) {
      const s = statusShard(id);
      expect(s).toBe(statusShard(id));
      expect(Number.isInteger(s)).toBe(true);
      expect(s).toBeGreaterThanOrEqual(0);
      expect(s).toBeLessThan(STATUS_SHARDS);
    }
  });

  it('spreads similar ids over every shard roughly evenly', () => {
    const counts = new Array(STATUS_SHARDS).fill(0);
    const n = 8_000;
    for (let i = 0; i < n; i++) counts[statusShard(`range:bucket:${String(i).padStart(8, '0')}`)]++;
    for (const c of counts) {
      expect(c).toBeGreaterThan((n / STATUS_SHARDS) * 0.8);
      expect(c).toBeLessThan((n / STATUS_SHARDS) * 1.2);
    }
  });
});

describe('status keys', () => {
  it('statusKey is one of statusKeysFor(run, status)', () => {
    const keys = statusKeysFor('r1', 'failed');
    expect(keys).toHaveLength(STATUS_SHARDS);
    expect(new Set(keys).size).toBe(STATUS_SHARDS);
    for (const id of ['a', 'b', 'c', 'item-42']) expect(keys).toContain(statusKey('r1', 'failed', id));
  });

  it('meta keys shard counters by worker and minute', () => {
    expect(metaKeys.counterTotal('r', 'w1')).not.toEqual(metaKeys.counterTotal('r', 'w2'));
    expect(metaKeys.counterMinute('r', 1, 'w1').pk).not.toBe(metaKeys.counterMinute('r', 2, 'w1').pk);
  });
});
