/**
 * What an `--all-versions` run still has to do for one key: the one rule the copy
 * (versions-copier.ts) and `--dry-run` (versions-dry-run.ts) both follow, so a dry run lists
 * exactly what a run would write.
 *
 * - a key the source has: the source versions after the anchor (versions-order.ts), oldest first;
 *   with --delete its delete markers too.
 * - a key only the destination has (within the synced prefixes and filters), with --delete: a
 *   delete marker on it, unless its newest entry is one already (so a re-run adds none).
 *
 * Finding the anchor reads the metadata of the destination's versions, newest first (a HEAD each,
 * usually one): a version counts as copied from a source version when it recorded that version's
 * VersionId and, where it recorded one, the same source ETag. The ETag matters for the "null"
 * version of an unversioned or versioning-suspended source, which a PUT replaces in place under
 * the same id: the replaced content is then a new version to copy, not one already there.
 */
import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { classifyError } from '../../../shared/errors.js';
import type { KeyVersions, VersionEntry } from './versions-listing.js';
import {
  META_SOURCE_VERSION_ID,
  anchorCandidates,
  copiedFrom,
  currentlyDeleted,
  mirroredVersions,
  pendingVersions,
  type Anchor,
} from './versions-order.js';

export interface KeyDecision {
  /** source versions and delete markers still to apply, oldest first */
  pending: VersionEntry[];
  /** source object versions (not delete markers) already at the destination */
  skipped: number;
  skippedBytes: number;
  /** --delete, a key the source does not have: a delete marker goes on the destination key */
  markExtra: boolean;
}

export interface DestinationBucket {
  s3: S3Client;
  bucket: string;
}

/** The destination's newest version convoy copied from one of `src`'s versions (a HEAD per look). */
async function findAnchor(
  d: DestinationBucket,
  destKey: string,
  src: VersionEntry[],
  dst: VersionEntry[],
  signal?: AbortSignal,
): Promise<Anchor | undefined> {
  const byId = new Map(src.map((v) => [v.versionId, v]));
  for (const i of anchorCandidates(dst)) {
    const head = await d.s3
      .send(new HeadObjectCommand({ Bucket: d.bucket, Key: destKey, VersionId: dst[i]!.versionId }), {
        abortSignal: signal,
      })
      .catch((err) => {
        throw classifyError(err);
      });
    const from = byId.get(head.Metadata?.[META_SOURCE_VERSION_ID] ?? '');
    if (from && copiedFrom(head.Metadata, from)) return { dstIndex: i, srcVersionId: from.versionId };
  }
  return undefined;
}

export async function decideKeyVersions(
  d: DestinationBucket,
  src: KeyVersions | undefined,
  dst: KeyVersions | undefined,
  destKey: string,
  opts: { deleteMarkers: boolean; signal?: AbortSignal },
): Promise<KeyDecision> {
  const have = dst?.versions ?? [];
  if (!src) {
    return { pending: [], skipped: 0, skippedBytes: 0, markExtra: opts.deleteMarkers && !currentlyDeleted(have) };
  }
  const wanted = mirroredVersions(src.versions, opts.deleteMarkers);
  const anchor = have.length ? await findAnchor(d, destKey, wanted, have, opts.signal) : undefined;
  const pending = pendingVersions(wanted, have, anchor);
  const todo = new Set(pending);
  let skipped = 0;
  let skippedBytes = 0;
  for (const v of wanted) {
    if (todo.has(v) || v.deleteMarker) continue;
    skipped++;
    skippedBytes += v.size;
  }
  return { pending, skipped, skippedBytes, markExtra: false };
}
