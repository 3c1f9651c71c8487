/**
 * The part size of a multipart copy at AWS's real limits (10,000 parts of at most 5 GiB): objects
 * of these sizes cannot be made in a test, so the choice is a pure function tested here, and
 * large-objects.test.ts drives the copier with small limits end to end.
 */
import { describe, expect, it } from 'vitest';
import { AWS_S3_LIMITS, partCount, partSizeFor } from '../../worker/jobs/s3-sync/s3-limits.js';

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
const TiB = 1024 ** 4;
const PREFERRED = 8 * MiB; // the --part-size default

describe('partSizeFor at AWS limits', () => {
  it.each([
    // object, part size, parts
    [5 * GiB, 8 * MiB, 640],
    [50 * GiB, 8 * MiB, 6400],
    [100 * GiB, 11 * MiB, 9310],
    [5 * TiB, 525 * MiB, 9987],
  ])('%d bytes: parts of %d bytes, %d of them', (size, part, parts) => {
    expect(partSizeFor(size, PREFERRED)).toBe(part);
    expect(partCount(size, part)).toBe(parts);
    expect(partCount(size, part)).toBeLessThanOrEqual(AWS_S3_LIMITS.maxParts);
  });

  it('keeps a larger preferred part size, and the 10,000-part boundary exactly', () => {
    expect(partSizeFor(5 * GiB, 64 * MiB)).toBe(64 * MiB);
    expect(partSizeFor(10_000 * 8 * MiB, PREFERRED)).toBe(8 * MiB);
    expect(partSizeFor(10_000 * 8 * MiB + 1, PREFERRED)).toBe(9 * MiB);
  });

  it('refuses an object no part size fits (over 10,000 parts of 5 GiB)', () => {
    expect(() => partSizeFor(50 * TiB, PREFERRED)).toThrow(/over the 5368709120-byte part limit/);
  });

  it('the limits are AWS numbers', () => {
    expect(AWS_S3_LIMITS).toEqual({ copyObjectMaxBytes: 5 * GiB, maxParts: 10_000, maxPartBytes: 5 * GiB });
  });
});
