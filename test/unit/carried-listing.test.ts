/**
 * A range's carried listing (worker/jobs/s3-sync/carried-listing.ts): what the cut encodes is what
 * the range's handler reads back, within a message's size; a hint that is too old, not the range's
 * or unreadable is refused (the range then lists its keys). The listing carried end to end, through
 * the CLI and SQS, is test/s3-sync/carried-listing.test.ts.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MESSAGE_HINT_MAX_CHARS, messageBody, messageSchema } from '../../shared/work-queue.js';
import {
  CARRIED_LISTING_MAX_AGE_MS,
  CarryingCutter,
  encodeCarriedListing,
  readCarriedListing,
} from '../../worker/jobs/s3-sync/carried-listing.js';
import type { ListedObject } from '../../worker/jobs/s3-sync/decide.js';
import { RangeCutter, type KeyRange } from '../../worker/jobs/s3-sync/ranges.js';

const NOW = 1_800_000_000_000;
const obj = (key: string, i = 0): ListedObject => ({
  key,
  size: 16_384 + i,
  etag: `${i.toString(16).padStart(8, '0')}0123456789abcdef01234567`,
  lastModifiedMs: NOW - 60_000 + i,
  storageClass: 'STANDARD',
});
const rangeOf = (objects: ListedObject[], prefix = 'p/', startAfter = ''): KeyRange => ({
  prefix,
  startAfter,
  lastKey: objects.at(-1)!.key,
  keys: objects.length,
  bytes: objects.reduce((n, o) => n + o.size, 0),
});

describe('a carried listing', () => {
  it('reads back what was encoded, keys of any characters included', () => {
    const objects = [
      obj('p/a', 1),
      obj('p/a b+c', 2),
      { ...obj('p/a\rline', 3), checksumAlgorithm: 'CRC32' as const },
      obj('p/caf\u00e9/\u{1f600}1', 4),
      obj('p/caf\u00e9/\u{1f600}2', 5),
      { ...obj('p/z-last', 6), storageClass: undefined },
    ].sort((a, b) => (Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)) < 0 ? -1 : 1));
    const hint = encodeCarriedListing(objects, NOW)!;
    const read = readCarriedListing(hint, rangeOf(objects), NOW + 1_000);
    // toStrictEqual: no property read back that was not listed (an absent storage class stays absent)
    expect(read).toStrictEqual(objects.map(strip));
  });

  it('fits 500 objects of a bench-like prefix in a message billed as one request', () => {
    const objects = Array.from({ length: 500 }, (_, i) => obj(`bench/e/obj-${String(i).padStart(7, '0')}`, i));
    const hint = encodeCarriedListing(objects, NOW)!;
    expect(hint.length).toBeLessThan(24 * 1024);
    const body = messageBody({ runId: 'r-1', itemId: 'range:0:bench/e/|..x', hint });
    expect(Buffer.byteLength(body)).toBeLessThan(64 * 1024);
    expect(messageSchema.parse(JSON.parse(body)).hint).toBe(hint);
  });

  it('is not carried when it would not fit a message, and a message leaves out a hint over the limit', () => {
    // keys that do not compress: 128 hex digits of a digest each
    const objects = Array.from({ length: 1_000 }, (_, i) =>
      obj(`p/${createHash('sha512').update(String(i)).digest('hex')}`, i),
    );
    objects.sort((a, b) => (a.key < b.key ? -1 : 1));
    expect(encodeCarriedListing(objects, NOW)).toBeUndefined();
    const body = messageBody({ runId: 'r', itemId: 'i', hint: 'x'.repeat(MESSAGE_HINT_MAX_CHARS + 1) });
    expect(JSON.parse(body)).toEqual({ v: 1, runId: 'r', itemId: 'i' });
  });

  it('is refused when older than the limit, not the range’s, or unreadable', () => {
    const objects = [obj('p/k1', 1), obj('p/k2', 2), obj('p/k3', 3)];
    const range = rangeOf(objects);
    const hint = encodeCarriedListing(objects, NOW)!;
    expect(readCarriedListing(hint, range, NOW + CARRIED_LISTING_MAX_AGE_MS)).toHaveLength(3);
    expect(readCarriedListing(hint, range, NOW + CARRIED_LISTING_MAX_AGE_MS + 1)).toBeUndefined();
    // another range's bounds: a key at or before its start, past its last key, a count that differs
    expect(readCarriedListing(hint, { ...range, startAfter: 'p/k1' }, NOW)).toBeUndefined();
    expect(readCarriedListing(hint, { ...range, lastKey: 'p/k2' }, NOW)).toBeUndefined();
    expect(readCarriedListing(hint, { ...range, keys: 4 }, NOW)).toBeUndefined();
    expect(readCarriedListing(hint, { ...range, prefix: 'q/' }, NOW)).toBeUndefined();
    // out of order
    const swapped = encodeCarriedListing([objects[1]!, objects[0]!, objects[2]!], NOW)!;
    expect(readCarriedListing(swapped, range, NOW)).toBeUndefined();
    // not ours
    expect(readCarriedListing('not base64 deflate', range, NOW)).toBeUndefined();
    expect(readCarriedListing(Buffer.from('{"v":1}').toString('base64'), range, NOW)).toBeUndefined();
  });
});

describe('CarryingCutter', () => {
  it('hands each range the hint of its own objects, and none for an open-ended range or without an encoder', () => {
    const objects = Array.from({ length: 7 }, (_, i) => obj(`p/k${i}`, i));
    let clock = NOW;
    const cutter = new CarryingCutter<ListedObject>(
      new RangeCutter('p/', 3, 1e12),
      encodeCarriedListing,
      () => clock++,
    );
    const cuts = objects.map((o) => cutter.push(o)).filter((c) => c !== undefined);
    const last = cutter.finish()!;
    expect(cuts.map((c) => c.range.lastKey)).toEqual(['p/k2', 'p/k5']);
    expect(readCarriedListing(cuts[0]!.hint!, cuts[0]!.range, NOW)!.map((o) => o.key)).toEqual([
      'p/k0',
      'p/k1',
      'p/k2',
    ]);
    expect(readCarriedListing(cuts[1]!.hint!, cuts[1]!.range, NOW)!.map((o) => o.key)).toEqual([
      'p/k3',
      'p/k4',
      'p/k5',
    ]);
    expect(readCarriedListing(last.hint!, last.range, NOW)!.map((o) => o.key)).toEqual(['p/k6']);

    const toEnd = new CarryingCutter<ListedObject>(new RangeCutter('p/', 3, 1e12), encodeCarriedListing);
    toEnd.push(objects[0]!);
    expect(toEnd.finish({ toEnd: true })).toEqual({ range: expect.objectContaining({ toEnd: true }) });

    const plain = new CarryingCutter<ListedObject>(new RangeCutter('p/', 3, 1e12), undefined);
    expect(objects.map((o) => plain.push(o)).filter((c) => c !== undefined)).toEqual([
      { range: expect.objectContaining({ lastKey: 'p/k2' }) },
      { range: expect.objectContaining({ lastKey: 'p/k5' }) },
    ]);
  });
});

/** a ListedObject as read back: no undefined properties */
function strip(o: ListedObject): ListedObject {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as unknown as ListedObject;
}
