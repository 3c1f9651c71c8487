/**
 * Cutting a sorted key listing into range items: pure, streaming (one range in memory at a time).
 * A range is (startAfter, lastKey]: the item row holds only its bounds, so it stays small. Its
 * first claim copies from the listing it was cut from, carried in its message while fresh
 * (carried-listing.ts); otherwise (a retry, an old or missing hint, --delete) the handler lists
 * exactly those keys again, so objects changed since planning are seen as they are.
 */
import { createHash } from 'node:crypto';

export interface KeyRange {
  prefix: string;
  /** exclusive lower bound ('' = from the start of the prefix) */
  startAfter: string;
  /** inclusive upper bound */
  lastKey: string;
  keys: number;
  bytes: number;
  /**
   * the last range of a prefix under --delete: it also covers everything after lastKey, so the
   * destination keys past the source's last key (or under a prefix the source no longer has at
   * all) are deleted too. Its handler lists both sides to the end of the prefix.
   */
  toEnd?: boolean;
}

export class RangeCutter {
  private startAfter: string;
  private keys = 0;
  private bytes = 0;
  private last = '';

  constructor(
    private readonly prefix: string,
    private readonly maxKeys: number,
    private readonly maxBytes: number,
    startAfter = '',
  ) {
    this.startAfter = startAfter;
  }

  /** Add the next key (in listing order); returns a finished range when this one is full. */
  push(key: string, size: number): KeyRange | undefined {
    this.keys++;
    this.bytes += size;
    this.last = key;
    if (this.keys >= this.maxKeys || this.bytes >= this.maxBytes) return this.cut();
    return undefined;
  }

  /**
   * The last, partial range (if any keys are left). With `toEnd` (--delete) there is always one,
   * open-ended: even a prefix with no source key left has destination keys to delete.
   */
  finish(opts: { toEnd?: boolean } = {}): KeyRange | undefined {
    if (this.keys) return this.cut(opts.toEnd);
    if (!opts.toEnd) return undefined;
    return {
      prefix: this.prefix,
      startAfter: this.startAfter,
      lastKey: this.startAfter,
      keys: 0,
      bytes: 0,
      toEnd: true,
    };
  }

  private cut(toEnd?: boolean): KeyRange {
    const range: KeyRange = {
      prefix: this.prefix,
      startAfter: this.startAfter,
      lastKey: this.last,
      keys: this.keys,
      bytes: this.bytes,
      ...(toEnd ? { toEnd } : {}),
    };
    this.startAfter = this.last;
    this.keys = 0;
    this.bytes = 0;
    return range;
  }
}

/**
 * Deterministic item id for a range. DynamoDB sort keys are <= 1024 bytes and S3 keys up to 1024,
 * so long bounds are replaced by a digest (the real bounds live in the item's spec).
 */
export function rangeItemId(
  pairIndex: number,
  range: Pick<KeyRange, 'prefix' | 'startAfter' | 'lastKey' | 'toEnd'>,
): string {
  const plain = `range:${pairIndex}:${range.prefix}|${range.startAfter}..${range.toEnd ? `${range.lastKey}..end` : range.lastKey}`;
  if (Buffer.byteLength(plain) <= 512) return plain;
  return `range:${pairIndex}:sha256:${createHash('sha256').update(plain).digest('hex')}`;
}

export function listItemId(pairIndex: number, prefix: string): string {
  const plain = `list:${pairIndex}:${prefix}`;
  if (Buffer.byteLength(plain) <= 512) return plain;
  return `list:${pairIndex}:sha256:${createHash('sha256').update(plain).digest('hex')}`;
}
