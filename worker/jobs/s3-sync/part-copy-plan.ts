/**
 * The pure half of a server-side copy spread over items (./part-copy-items.ts): which parts each
 * child item copies, the children's ids, and the ETag S3 gives the completed upload. No I/O.
 */
import { createHash } from 'node:crypto';
import { partCount } from './s3-limits.js';

const GiB = 1024 * 1024 * 1024;

/** what one child item copies: parts `first`..`last` (1-based, inclusive) */
export interface PartBatch {
  child: number;
  first: number;
  last: number;
}

/**
 * Parts per child item: the spec's `partsPerItem`, else about 1 GiB of parts (big enough that an
 * item's bookkeeping is noise beside its copies, small enough that a 5 TiB object is thousands of
 * items the fleet shares).
 */
export function partsPerItemFor(partBytes: number, configured?: number): number {
  return configured ?? Math.max(1, Math.floor(GiB / partBytes));
}

/**
 * Whether an object of `parts` parts is spread over child items: only when it is more than one
 * child's worth (a smaller one is copied by parts in the item that meets it).
 */
export function spreads(parts: number, perItem: number): boolean {
  return parts > perItem;
}

/**
 * The children's batches of an object of `sizeBytes` in parts of `partBytes`: part 1 is copied by
 * the item that starts the upload (it finds an endpoint without UploadPartCopy before anything is
 * added), parts 2..N in batches of `perItem`.
 */
export function childBatches(sizeBytes: number, partBytes: number, perItem: number): PartBatch[] {
  const parts = partCount(sizeBytes, partBytes);
  const out: PartBatch[] = [];
  for (let first = 2, child = 0; first <= parts; first += perItem, child++)
    out.push({ child, first, last: Math.min(parts, first + perItem - 1) });
  return out;
}

/** The byte range of part `n` (1-based), as CopySourceRange's inclusive bounds. */
export function partRange(n: number, partBytes: number, sizeBytes: number): { start: number; end: number } {
  const start = (n - 1) * partBytes;
  return { start, end: Math.min(sizeBytes, start + partBytes) - 1 };
}

/** Bytes of parts `first`..`last`. */
export function batchBytes(b: Pick<PartBatch, 'first' | 'last'>, partBytes: number, sizeBytes: number): number {
  return partRange(b.last, partBytes, sizeBytes).end + 1 - partRange(b.first, partBytes, sizeBytes).start;
}

/** The item id of a child: names the object (by pair and destination key) and its parts. */
export function partsItemId(pair: number, destKey: string, b: Pick<PartBatch, 'first' | 'last'>): string {
  const plain = `parts:${pair}:${destKey}#${b.first}-${b.last}`;
  if (Buffer.byteLength(plain) <= 512) return plain;
  const digest = createHash('sha256').update(destKey).digest('hex');
  return `parts:${pair}:sha256:${digest}#${b.first}-${b.last}`;
}

/**
 * The ETag S3 gives a completed multipart upload: the MD5 of the parts' binary MD5s, a dash, the
 * part count. Equal to the completed object's ETag only if the completion used exactly these parts
 * in this order (part ETags are the parts' MD5s, except under SSE-KMS/SSE-C where they are opaque).
 */
export function multipartEtag(partEtags: readonly string[]): string {
  const md5 = createHash('md5');
  for (const e of partEtags) md5.update(Buffer.from(e.replace(/"/g, ''), 'hex'));
  return `${md5.digest('hex')}-${partEtags.length}`;
}

/** True when every ETag is a plain MD5 (hex), so `multipartEtag` predicts the completed one. */
export function predictableEtags(partEtags: readonly string[]): boolean {
  return partEtags.every((e) => /^[0-9a-f]{32}$/.test(e.replace(/"/g, '')));
}
