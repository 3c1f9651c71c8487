/**
 * S3 additional checksums, the pure logic (worker/jobs/s3-sync/checksums.ts). Neither backend of
 * the local stack implements them (fauxqs 1.9.2 returns none; Ceph radosgw 16.2 predates them);
 * fauxqs 2.4.1 keeps some: checksums-carried.test.ts copies with them end to end, and
 * checksums-full-object.test.ts shows that no local store keeps the full-object values on
 * multipart objects by which the decisions below tell apart objects cut in different parts.
 */
import { describe, expect, it } from 'vitest';
import {
  carriedChecksumHeader,
  checksumsOf,
  checksumsOfHeaders,
  compareChecksums,
  listedChecksumAlgorithm,
  uploadChecksumAlgorithm,
} from '../../worker/jobs/s3-sync/checksums.js';
import { decideByChecksums } from '../../worker/jobs/s3-sync/decide.js';

const full = (v: string) => ({ ChecksumCRC32C: v, ChecksumType: 'FULL_OBJECT' as const });

describe('checksumsOf', () => {
  it('reads every algorithm a HEAD reports, and whether it is composite', () => {
    expect(checksumsOf({ ChecksumSHA256: 'sha=', ChecksumCRC32C: 'crc=', ChecksumType: 'FULL_OBJECT' })).toEqual([
      { algorithm: 'CRC32C', value: 'crc=', type: 'FULL_OBJECT' },
      { algorithm: 'SHA256', value: 'sha=', type: 'FULL_OBJECT' },
    ]);
    expect(checksumsOf({ ChecksumCRC32: 'abc=-3' })).toEqual([
      { algorithm: 'CRC32', value: 'abc=-3', type: 'COMPOSITE' },
    ]);
    expect(checksumsOf({})).toEqual([]);
    expect(checksumsOf(undefined)).toEqual([]);
  });
});

describe('compareChecksums', () => {
  it('full-object values of one algorithm decide both ways', () => {
    expect(compareChecksums(checksumsOf(full('a=')), checksumsOf(full('a=')))).toBe('same');
    expect(compareChecksums(checksumsOf(full('a=')), checksumsOf(full('b=')))).toBe('differs');
  });
  it('composite values decide only when equal (another part cut gives another value)', () => {
    expect(compareChecksums(checksumsOf({ ChecksumCRC32C: 'x=-2' }), checksumsOf({ ChecksumCRC32C: 'x=-2' }))).toBe(
      'same',
    );
    expect(compareChecksums(checksumsOf({ ChecksumCRC32C: 'x=-2' }), checksumsOf({ ChecksumCRC32C: 'y=-3' }))).toBe(
      'unknown',
    );
    expect(compareChecksums(checksumsOf(full('x=')), checksumsOf({ ChecksumCRC32C: 'y=-3' }))).toBe('unknown');
  });
  it('different algorithms, or none on a side, are no verdict', () => {
    expect(compareChecksums(checksumsOf(full('a=')), checksumsOf({ ChecksumSHA256: 'a=' }))).toBe('unknown');
    expect(compareChecksums(checksumsOf(full('a=')), [])).toBe('unknown');
  });
  it('uses an algorithm both sides share', () => {
    const src = checksumsOf({ ChecksumCRC64NVME: 'n=', ChecksumSHA256: 's=', ChecksumType: 'FULL_OBJECT' });
    const dst = checksumsOf({ ChecksumSHA256: 's=', ChecksumType: 'FULL_OBJECT' });
    expect(compareChecksums(src, dst)).toBe('same');
  });
});

describe('decideByChecksums (the skip decision and verify after a HEAD)', () => {
  const src = { key: 'k', size: 10, etag: 'abc-2', lastModifiedMs: 0 };
  it('skips an object whose checksum matches, copies one whose full-object checksum differs', () => {
    expect(decideByChecksums(src, full('a='), full('a='))).toEqual({ action: 'skip', reason: 'same_checksum' });
    expect(decideByChecksums(src, full('a='), full('b='))).toEqual({ action: 'copy', reason: 'checksum_differs' });
  });
  it('gives no decision without a verdict (convoy metadata decides then)', () => {
    expect(decideByChecksums(src, full('a='), {})).toBeUndefined();
    expect(decideByChecksums(src, undefined, full('a='))).toBeUndefined();
  });
});

describe('algorithms for listing and uploads', () => {
  it("takes the listing's algorithm when it is one S3 defines", () => {
    expect(listedChecksumAlgorithm(['CRC32C'])).toBe('CRC32C');
    expect(listedChecksumAlgorithm(['MD5X'])).toBeUndefined();
    expect(listedChecksumAlgorithm(undefined)).toBeUndefined();
  });
  it('asks uploads for the source algorithm, leaving CRC64NVME to S3', () => {
    expect(uploadChecksumAlgorithm('SHA256')).toBe('SHA256');
    expect(uploadChecksumAlgorithm('CRC64NVME')).toBeUndefined();
    expect(uploadChecksumAlgorithm(undefined)).toBeUndefined();
  });
});

describe('the checksum a single PUT carries', () => {
  it("reads a GET's checksum headers and carries the whole-object one, never a composite", () => {
    const got = checksumsOfHeaders({ 'x-amz-checksum-sha256': 'sha=', 'x-amz-checksum-type': 'FULL_OBJECT' });
    expect(got).toEqual([{ algorithm: 'SHA256', value: 'sha=', type: 'FULL_OBJECT' }]);
    expect(carriedChecksumHeader(got)).toEqual({ 'x-amz-checksum-sha256': 'sha=' });
    expect(carriedChecksumHeader(checksumsOfHeaders({ 'x-amz-checksum-crc32': 'abc=-3' }))).toEqual({});
    expect(carriedChecksumHeader(checksumsOfHeaders({ 'content-type': 'text/plain' }))).toEqual({});
  });
});
