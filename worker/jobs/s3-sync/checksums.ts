/**
 * S3's additional checksums (CRC32, CRC32C, CRC64NVME, SHA1, SHA256: `x-amz-checksum-*`), used to
 * compare a source and a destination object without reading either body. Pure: the HEAD answers
 * (asked with `ChecksumMode: ENABLED`) come in, a comparison goes out.
 *
 * Two kinds of value (S3's `ChecksumType`):
 *  - FULL_OBJECT: the checksum of the whole body (a single PUT; CRC64NVME, which S3 adds to every
 *    object uploaded without a checksum; multipart uploads asked for full-object CRCs). Two full-
 *    object values of one algorithm decide the comparison both ways: equal bytes or not.
 *  - COMPOSITE: a checksum of the parts' checksums, `<value>-<parts>`; it depends on where the parts
 *    were cut. Equal composite values still mean equal bytes, but different ones only mean a
 *    different cut as likely as different bytes: not a verdict.
 * Anything else (no checksum on a side, different algorithms) is no verdict, and the caller falls
 * back to convoy's own metadata (decide.ts).
 *
 * Copies keep the algorithm: CopyObject copies the source's checksum itself (S3 does, unless the
 * request names another algorithm); a streamed multipart copy asks the SDK for the source's
 * algorithm (`uploadChecksumAlgorithm`), so the destination computes and validates it per part
 * (and the copier then leaves out its in-place sha256 rewrite, which could drop it: copier.ts).
 */
import type { HeadObjectCommandOutput } from '@aws-sdk/client-s3';

export const CHECKSUM_ALGORITHMS = ['CRC64NVME', 'CRC32C', 'CRC32', 'SHA256', 'SHA1'] as const;
export type ChecksumAlgorithm = (typeof CHECKSUM_ALGORITHMS)[number];

export interface ObjectChecksum {
  algorithm: ChecksumAlgorithm;
  /** base64, with `-<parts>` for a composite value */
  value: string;
  type: 'FULL_OBJECT' | 'COMPOSITE';
}

type HeadChecksums = Pick<
  HeadObjectCommandOutput,
  'ChecksumCRC32' | 'ChecksumCRC32C' | 'ChecksumCRC64NVME' | 'ChecksumSHA1' | 'ChecksumSHA256' | 'ChecksumType'
>;

const FIELD: Record<ChecksumAlgorithm, keyof HeadChecksums> = {
  CRC64NVME: 'ChecksumCRC64NVME',
  CRC32C: 'ChecksumCRC32C',
  CRC32: 'ChecksumCRC32',
  SHA256: 'ChecksumSHA256',
  SHA1: 'ChecksumSHA1',
};

/** The checksums a HEAD (with ChecksumMode ENABLED) reported, strongest first; [] when none. */
export function checksumsOf(head: HeadChecksums | undefined): ObjectChecksum[] {
  if (!head) return [];
  const out: ObjectChecksum[] = [];
  for (const algorithm of CHECKSUM_ALGORITHMS) {
    const value = head[FIELD[algorithm]];
    if (typeof value !== 'string' || !value) continue;
    // older answers carry no ChecksumType: a `-N` suffix is what marks a composite value
    const type = head.ChecksumType === 'COMPOSITE' || /-\d+$/.test(value) ? 'COMPOSITE' : 'FULL_OBJECT';
    out.push({ algorithm, value, type });
  }
  return out;
}

export type ChecksumVerdict = 'same' | 'differs' | 'unknown';

/**
 * Compare by the first algorithm both sides have: 'same' when the values are equal; 'differs'
 * only when both are full-object values of that algorithm; otherwise 'unknown'.
 */
export function compareChecksums(src: readonly ObjectChecksum[], dst: readonly ObjectChecksum[]): ChecksumVerdict {
  for (const a of src) {
    const b = dst.find((d) => d.algorithm === a.algorithm);
    if (!b) continue;
    if (a.value === b.value) return 'same';
    if (a.type === 'FULL_OBJECT' && b.type === 'FULL_OBJECT') return 'differs';
    return 'unknown';
  }
  return 'unknown';
}

/** The algorithm ListObjectsV2 names for an object (its `ChecksumAlgorithm` list), if one we know. */
export function listedChecksumAlgorithm(listed: readonly string[] | undefined): ChecksumAlgorithm | undefined {
  return listed?.find((a): a is ChecksumAlgorithm => (CHECKSUM_ALGORITHMS as readonly string[]).includes(a));
}

/**
 * The algorithm to ask the SDK for when a copy is uploaded (streamed multipart): the source's, so
 * the destination computes and validates the same kind of checksum. CRC64NVME is left to S3 (it
 * adds it to every upload; the SDK needs an extra CRT package to compute it).
 */
export function uploadChecksumAlgorithm(
  algorithm: ChecksumAlgorithm | undefined,
): Exclude<ChecksumAlgorithm, 'CRC64NVME'> | undefined {
  return algorithm === 'CRC64NVME' ? undefined : algorithm;
}

/**
 * The checksums of a GET's answer headers (asked with `x-amz-checksum-mode: ENABLED`), as
 * `checksumsOf` reads a HEAD's: `x-amz-checksum-<algorithm>` and `x-amz-checksum-type`.
 */
export function checksumsOfHeaders(headers: Record<string, string | string[] | undefined>): ObjectChecksum[] {
  const one = (name: string) => {
    const v = headers[name];
    return typeof v === 'string' ? v : undefined;
  };
  const head: Record<string, string | undefined> = { ChecksumType: one('x-amz-checksum-type') };
  for (const algorithm of CHECKSUM_ALGORITHMS)
    head[FIELD[algorithm]] = one(`x-amz-checksum-${algorithm.toLowerCase()}`);
  return checksumsOf(head as HeadChecksums);
}

/**
 * The request header that carries a source's whole-object checksum to a single PUT of the same
 * bytes: the destination then computes the checksum itself, refuses the body if it differs
 * (BadDigest), and keeps it, so later runs and verify compare the two without reading either.
 * A composite value (a multipart source) cannot be given for a single PUT: none then.
 */
export function carriedChecksumHeader(checksums: readonly ObjectChecksum[]): Record<string, string> {
  const full = checksums.find((c) => c.type === 'FULL_OBJECT');
  return full ? { [`x-amz-checksum-${full.algorithm.toLowerCase()}`]: full.value } : {};
}
