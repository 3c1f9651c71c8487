/**
 * S3's size limits that decide how an object is copied, in one place (AWS's numbers; an
 * S3-compatible store with other limits, or a test with small objects, passes its own):
 *  - CopyObject copies a source of at most 5 GiB; a larger object is copied by parts
 *    (UploadPartCopy, still server-side) or, where the endpoint lacks that, streamed;
 *  - a multipart upload has at most 10,000 parts of 5 MiB to 5 GiB (the last may be smaller), so
 *    the part size grows with the object: 8 MiB parts end at 78 GiB, and a 5 TiB object (S3's
 *    largest) needs parts of at least 525 MiB.
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html
 */
import * as z from 'zod';
import { ConvoyError } from '../../../shared/errors.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

export const s3LimitsSchema = z
  .object({
    /** the largest source CopyObject accepts @defaultValue 5 GiB */
    copyObjectMaxBytes: z
      .number()
      .int()
      .min(1)
      .default(5 * GiB),
    /** parts per multipart upload @defaultValue 10,000 */
    maxParts: z.number().int().min(1).max(10_000).default(10_000),
    /** the largest part @defaultValue 5 GiB */
    maxPartBytes: z
      .number()
      .int()
      .min(1)
      .default(5 * GiB),
  })
  .strict();
export type S3Limits = z.infer<typeof s3LimitsSchema>;

export const AWS_S3_LIMITS: S3Limits = s3LimitsSchema.parse({});

/**
 * The part size for a multipart copy of `objectBytes`: the configured size, or, for an object that
 * would need more than `maxParts` parts of it, the smallest whole number of MiB that fits it in
 * `maxParts`. Throws (permanent) for an object no part size can fit.
 */
export function partSizeFor(objectBytes: number, preferredPartBytes: number, limits: S3Limits = AWS_S3_LIMITS): number {
  const needed = Math.ceil(Math.ceil(objectBytes / limits.maxParts) / MiB) * MiB;
  const size = Math.max(preferredPartBytes, needed);
  if (size > limits.maxPartBytes)
    throw new ConvoyError(
      'BAD_INPUT',
      `an object of ${objectBytes} bytes needs parts of ${size} bytes to fit in ${limits.maxParts} parts, over the ${limits.maxPartBytes}-byte part limit`,
      { retryable: false },
    );
  return size;
}

/** How many parts an object of `objectBytes` is uploaded in with parts of `partBytes`. */
export function partCount(objectBytes: number, partBytes: number): number {
  return Math.max(1, Math.ceil(objectBytes / partBytes));
}
