/**
 * The s3-sync run spec, as stored in the run row and validated once (planning, and when a worker
 * loads the run). Remote names refer to `remotes` in the config (like rclone remotes).
 */
import * as z from 'zod';
import { objectPropertiesShape } from './object-properties.js';
import { s3LimitsSchema } from './s3-limits.js';

export const locationSchema = z.object({
  remote: z.string().min(1),
  bucket: z.string().min(3).max(63),
  /** key prefix inside the bucket ('' = whole bucket) */
  prefix: z.string().default(''),
});
export type S3Location = z.infer<typeof locationSchema>;

export const bucketPairSchema = z.object({ from: locationSchema, to: locationSchema });
export type BucketPair = z.infer<typeof bucketPairSchema>;

export const s3SyncSpecSchema = z.object({
  pairs: z.array(bucketPairSchema).min(1),
  /** aws-cli style globs on the key relative to the source prefix: `*` matches across `/` */
  include: z.array(z.string()).default([]),
  exclude: z.array(z.string()).default([]),
  /** copy only the newest child prefix of each of these prefixes (relative to the pair's prefix) */
  latestPrefix: z.array(z.string()).default([]),
  /** how "newest" is decided: by name (timestamps, run ids) or by the newest object's LastModified */
  latestBy: z.enum(['name', 'modified']).default('name'),
  /** compare by size only (skip any same-size object) */
  sizeOnly: z.boolean().default(false),
  createBuckets: z.boolean().default(false),
  /**
   * copy every version of each key, oldest first, into a versioned destination (versions-*.ts);
   * with --delete, the source's delete markers are mirrored at their place in the version order
   */
  allVersions: z.boolean().default(false),
  /**
   * mirror deletions (rclone sync, `aws s3 sync --delete`): each range item deletes the
   * destination keys in its range that the source lacks, after its copies, within the synced
   * prefixes and filters only
   */
  delete: z.boolean().default(false),
  /** objects above this are copied with multipart upload (fauxqs caps one request body at ~11 MiB) */
  multipartThresholdBytes: z
    .number()
    .int()
    .min(5 * 1024 * 1024)
    .default(8 * 1024 * 1024),
  partSizeBytes: z
    .number()
    .int()
    .min(5 * 1024 * 1024)
    .default(8 * 1024 * 1024),
  /**
   * the store's size limits (CopyObject's largest source, parts per upload, largest part), when
   * they are not AWS's (./s3-limits.ts); tests pass small ones to reach the large-object paths
   */
  s3Limits: s3LimitsSchema.optional(),
  /**
   * an object copied by parts (over CopyObject's limit, same endpoint) is spread over child items
   * of this many parts each when it has more (./part-copy-items.ts) @defaultValue about 1 GiB of parts
   */
  partsPerItem: z.number().int().min(1).max(10_000).optional(),
  /** fleet-wide limit on bytes copied per second (like rclone --bwlimit), split across live workers */
  bwlimitBytesPerSecond: z.number().int().min(1).optional(),
  /** fleet-wide limit on objects copied per second (like rclone --tpslimit), split across live workers */
  tpsLimit: z.number().positive().optional(),
  /**
   * adaptive: when a destination throttles (503 SlowDown, 429), the fleet backs off and climbs
   * again (AIMD, one shared rate per destination bucket and top-level prefix: see
   * worker/budget/adaptive-rates.ts); fixed: only --tpslimit/--bwlimit limit the fleet
   */
  rateControl: z.enum(['adaptive', 'fixed']).default('adaptive'),
  /** a range item holds at most this many keys / bytes */
  rangeMaxKeys: z.number().int().min(1).max(100_000).default(500),
  rangeMaxBytes: z
    .number()
    .int()
    .min(1)
    .default(1024 * 1024 * 1024),
  /**
   * fleet: the coordinator lists the top level; each top-level prefix is listed by the fleet (a
   * `list` item that adds range items). auto: as fleet, after the coordinator has listed the first
   * pages of top-level prefixes itself (planner.ts INLINE_LIST_PAGES). coordinator: the
   * coordinator streams the whole listing.
   */
  listMode: z.enum(['auto', 'fleet', 'coordinator']).default('auto'),
  /** per pair, the source prefixes this run syncs; filled in once at planning (see prefixes.ts) */
  resolvedPrefixes: z.array(z.array(z.string())).optional(),
  /** tags, storage class, encryption and ACL of the destination objects (object-properties.ts) */
  ...objectPropertiesShape,
});
export type S3SyncSpec = z.infer<typeof s3SyncSpecSchema>;

/** The destination key for a source key (prefix mapping: from.prefix -> to.prefix). */
export function destKeyFor(pair: BucketPair, srcKey: string): string {
  return pair.to.prefix + srcKey.slice(pair.from.prefix.length);
}

/**
 * The destination a copy is rate-controlled as: the bucket and the key's first path segment (S3
 * scales request rates per prefix), named by remote so the same bucket on two endpoints differs.
 */
export function rateDestinationOf(pair: BucketPair, destKey: string): string {
  const slash = destKey.indexOf('/');
  return `s3:${pair.to.remote}/${pair.to.bucket}/${slash < 0 ? '' : destKey.slice(0, slash + 1)}`;
}

export function groupOf(pair: BucketPair): string {
  return `${pair.from.remote}:${pair.from.bucket}->${pair.to.remote}:${pair.to.bucket}`;
}
