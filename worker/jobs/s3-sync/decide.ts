/**
 * Whether an object needs copying: pure, given what the two listings say (and, for objects whose
 * ETag is not a plain MD5, the destination's metadata). Used by the handler, --dry-run and verify.
 *
 * Single-part ETags are the MD5 of the bytes, so equal ETags mean equal bytes. Multipart ETags
 * depend on the part size, so for those the destination carries `convoy-source-etag` (the source
 * ETag it was copied from) and `convoy-sha256` (a whole-object checksum) in its metadata.
 */
import { type ChecksumAlgorithm, checksumsOf, compareChecksums } from './checksums.js';

export interface ListedObject {
  key: string;
  size: number;
  etag: string;
  lastModifiedMs: number;
  /** the additional checksum ListObjectsV2 names for it (./checksums.ts), when it has one */
  checksumAlgorithm?: ChecksumAlgorithm;
  /** as listed (STANDARD, STANDARD_IA, ...); some endpoints leave it out */
  storageClass?: string;
}

export const META_SOURCE_ETAG = 'convoy-source-etag';
export const META_SHA256 = 'convoy-sha256';

export type Decision =
  | { action: 'copy'; reason: 'missing' | 'size_differs' | 'checksum_differs' }
  | { action: 'skip'; reason: 'same_etag' | 'same_size' | 'same_source_etag' | 'same_checksum' }
  | { action: 'head'; reason: 'multipart_etag' };

export const normalizeEtag = (etag: string | undefined) => (etag ?? '').replace(/"/g, '');
export const isMultipartEtag = (etag: string) => normalizeEtag(etag).includes('-');

export function decide(
  src: ListedObject,
  dst: ListedObject | undefined,
  /** destEtagsOpaque: destination ETags are not MD5s (SSE-KMS on AWS): look at the metadata */
  opts: { sizeOnly: boolean; destEtagsOpaque?: boolean },
): Decision {
  if (!dst) return { action: 'copy', reason: 'missing' };
  if (src.size !== dst.size) return { action: 'copy', reason: 'size_differs' };
  if (opts.sizeOnly) return { action: 'skip', reason: 'same_size' };
  if (normalizeEtag(src.etag) === normalizeEtag(dst.etag)) return { action: 'skip', reason: 'same_etag' };
  if (isMultipartEtag(src.etag) || isMultipartEtag(dst.etag) || opts.destEtagsOpaque)
    return { action: 'head', reason: 'multipart_etag' };
  return { action: 'copy', reason: 'checksum_differs' };
}

/**
 * The second step for multipart objects, once metadata is known: the destination was copied from
 * this very source version, or both sides carry the same whole-object checksum (a reverse sync of
 * objects convoy copied earlier).
 */
export function decideWithMetadata(
  src: ListedObject,
  srcMetadata: Record<string, string> | undefined,
  dstMetadata: Record<string, string> | undefined,
): Decision {
  if (dstMetadata?.[META_SOURCE_ETAG] === normalizeEtag(src.etag))
    return { action: 'skip', reason: 'same_source_etag' };
  const a = srcMetadata?.[META_SHA256];
  if (a && a === dstMetadata?.[META_SHA256]) return { action: 'skip', reason: 'same_source_etag' };
  return { action: 'copy', reason: 'checksum_differs' };
}

/**
 * After the HEADs (asked with ChecksumMode ENABLED): S3's additional checksums decide when both
 * sides have comparable ones (./checksums.ts); undefined when they do not, and the metadata decides.
 */
export function decideByChecksums(
  _src: ListedObject,
  srcHead: Parameters<typeof checksumsOf>[0],
  dstHead: Parameters<typeof checksumsOf>[0],
): Decision | undefined {
  const verdict = compareChecksums(checksumsOf(srcHead), checksumsOf(dstHead));
  if (verdict === 'same') return { action: 'skip', reason: 'same_checksum' };
  if (verdict === 'differs') return { action: 'copy', reason: 'checksum_differs' };
  return undefined;
}
