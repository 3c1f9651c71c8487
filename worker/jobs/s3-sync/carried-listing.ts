/**
 * A range item's source listing, carried in the range's message (NewItem.hint) from the process
 * that cut the range to the one that copies it: the source is listed once, as rclone lists once
 * and copies, instead of once to cut the ranges and again by each range (three list calls per
 * 1,000 keys, and on an endpoint that sorts the bucket on every list call, fauxqs, the endpoint's
 * CPU went into them: docs/benchmarks.md).
 *
 * The item row never holds it (a 500-key listing would make each of the row's writes tens of
 * WCUs); a message of up to 64 KiB costs what a message of 100 bytes does. It is advisory:
 * - used on the range's first claim only, and only while it is at most CARRIED_LISTING_MAX_AGE_MS
 *   old (a range that waited longer in the queue lists its keys, as before); a retry lists;
 * - never under --delete: a key added to the source after the cut would be missing from the
 *   carried listing, and the range would delete it from the destination;
 * - an object the carried listing names that is gone or changed by the copy fails the attempt as
 *   retryable (handler.ts), and the retry lists the range afresh.
 * Keys added to a range after it was cut are copied by the next run (rclone's behaviour for keys
 * added after its listing).
 *
 * Encoding: the range's objects in key order, each key front-coded against the one before
 * (listed keys share long prefixes), as JSON, deflated, base64: ~30 bytes per object for 16 KiB
 * objects under one prefix. A listing over MESSAGE_HINT_MAX_CHARS is not carried.
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { MESSAGE_HINT_MAX_CHARS } from '../../../shared/work-queue.js';
import { listedChecksumAlgorithm } from './checksums.js';
import type { ListedObject } from './decide.js';
import { compareKeys } from './listing.js';
import type { KeyRange, RangeCutter } from './ranges.js';

/**
 * Whether a run's ranges carry their listing: not under --delete, where a key added to the source
 * after the cut would be missing from the carried listing and deleted from the destination.
 */
export function carriesListings(spec: { delete: boolean }): boolean {
  return !spec.delete;
}

/** how old a carried listing may be when its range is claimed (older: the range lists its keys) */
export const CARRIED_LISTING_MAX_AGE_MS = 10 * 60_000;

/** one object: [chars shared with the previous key, the rest of the key, size, ETag, mtime, checksum algorithm, storage class] */
type Entry = [number, string, number, string, number, string, string];

interface Carried {
  v: 1;
  /** when the listing was read (ms since the epoch, the cutting process's clock) */
  at: number;
  o: Entry[];
}

/** The hint for a range cut from `objects` (in key order), or undefined when it would not fit a message. */
export function encodeCarriedListing(objects: readonly ListedObject[], listedAtMs: number): string | undefined {
  let previous = '';
  const o = objects.map((obj): Entry => {
    const shared = sharedPrefixLength(previous, obj.key);
    previous = obj.key;
    return [
      shared,
      obj.key.slice(shared),
      obj.size,
      obj.etag,
      obj.lastModifiedMs,
      obj.checksumAlgorithm ?? '',
      obj.storageClass ?? '',
    ];
  });
  // level 1: a quarter of the default level's CPU, 4% larger (500 bench objects: 13.2 vs 12.7 KB)
  const json = JSON.stringify({ v: 1, at: listedAtMs, o } satisfies Carried);
  const hint = deflateRawSync(json, { level: 1 }).toString('base64');
  return hint.length <= MESSAGE_HINT_MAX_CHARS ? hint : undefined;
}

/**
 * The carried listing of range `r`, or undefined when the hint cannot stand in for listing the
 * range now: too old, unreadable, or not this range's (a key outside its bounds, out of order, or
 * a count that differs from the range's). Never throws: a bad hint costs a listing, not the item.
 */
export function readCarriedListing(hint: string, r: KeyRange, nowMs: number): ListedObject[] | undefined {
  let carried: Carried;
  try {
    carried = JSON.parse(inflateRawSync(Buffer.from(hint, 'base64')).toString('utf8')) as Carried;
  } catch {
    return undefined;
  }
  if (carried?.v !== 1 || !Array.isArray(carried.o) || typeof carried.at !== 'number') return undefined;
  if (nowMs - carried.at > CARRIED_LISTING_MAX_AGE_MS) return undefined;
  if (carried.o.length !== r.keys) return undefined;
  const objects: ListedObject[] = [];
  let previous = r.startAfter;
  let previousKey = '';
  for (const e of carried.o) {
    if (!Array.isArray(e) || e.length !== 7) return undefined;
    const [shared, rest, size, etag, mtime, algorithm, storageClass] = e;
    if (typeof shared !== 'number' || typeof rest !== 'string' || shared > previousKey.length) return undefined;
    if (typeof size !== 'number' || typeof etag !== 'string' || typeof mtime !== 'number') return undefined;
    const key = previousKey.slice(0, shared) + rest;
    // strictly after the one before (and after the range's start), within the prefix and lastKey
    if (!key.startsWith(r.prefix) || compareKeys(key, previous) <= 0 || compareKeys(key, r.lastKey) > 0)
      return undefined;
    const obj: ListedObject = { key, size, etag, lastModifiedMs: mtime };
    const checksumAlgorithm = algorithm ? listedChecksumAlgorithm([algorithm]) : undefined;
    if (checksumAlgorithm) obj.checksumAlgorithm = checksumAlgorithm;
    if (storageClass) obj.storageClass = storageClass;
    objects.push(obj);
    previous = previousKey = key;
  }
  return objects;
}

function sharedPrefixLength(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  // never split a surrogate pair: the rest of the key must be a whole string on its own
  if (i > 0 && i < b.length && isHighSurrogate(b.charCodeAt(i - 1))) i--;
  return i;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

/** A cut range, and the hint that carries its listing when there is one. */
export interface CutRange {
  range: KeyRange;
  hint?: string;
}

/**
 * A RangeCutter that, given an encoder, also hands each range it cuts the hint of its listed
 * entries (only one range's entries held at a time). Without one it only cuts: ranges whose
 * listing is not carried (--delete, ListObjectVersions).
 */
export class CarryingCutter<T extends { key: string; size: number }> {
  private entries: T[] = [];
  private firstListedAtMs = 0;

  constructor(
    private readonly cutter: RangeCutter,
    private readonly encode: ((entries: T[], listedAtMs: number) => string | undefined) | undefined,
    private readonly now: () => number = Date.now,
  ) {}

  /** Add the next listed entry (in key order); returns a finished range when one is full. */
  push(entry: T): CutRange | undefined {
    if (this.encode) {
      // the range's age counts from when its first key was listed
      if (!this.entries.length) this.firstListedAtMs = this.now();
      this.entries.push(entry);
    }
    const range = this.cutter.push(entry.key, entry.size);
    return range && this.withHint(range);
  }

  /** The last, partial range (RangeCutter.finish). */
  finish(opts: { toEnd?: boolean } = {}): CutRange | undefined {
    const range = this.cutter.finish(opts);
    return range && this.withHint(range);
  }

  private withHint(range: KeyRange): CutRange {
    const hint = this.encode && !range.toEnd ? this.encode(this.entries, this.firstListedAtMs) : undefined;
    this.entries = [];
    return hint ? { range, hint } : { range };
  }
}
