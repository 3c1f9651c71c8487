/**
 * Which source versions of a key still have to reach the destination, and whether two version
 * lists match: pure, given both lists (oldest first) and what the destination's metadata says.
 *
 * How a copied version is recognised: every version convoy writes carries the source's VersionId
 * and ETag in its metadata (`convoy-source-version-id`, `convoy-source-etag`: copiedFrom). The
 * newest destination version copied from a source version is the anchor: everything older in the
 * source is there already, and so are the delete markers the destination holds after the anchor
 * (a mirrored delete marker has no metadata; it is counted). A re-run therefore costs one HEAD per key that has versions on both
 * sides, and copies nothing that is there. Without an anchor (a destination key convoy never
 * wrote) every source version is copied after what the destination holds, so the source's newest
 * version becomes the destination's newest.
 */
import { META_SOURCE_ETAG, normalizeEtag } from './decide.js';
import type { VersionEntry } from './versions-listing.js';

export const META_SOURCE_VERSION_ID = 'convoy-source-version-id';

/**
 * Whether a destination version (its metadata) was copied from this source version: it recorded
 * the VersionId and, where it recorded one, the same ETag. The ETag tells apart the contents a
 * "null" version (unversioned or suspended source) had before and after a PUT replaced it in place.
 */
export function copiedFrom(dstMetadata: Record<string, string> | undefined, src: VersionEntry): boolean {
  if (dstMetadata?.[META_SOURCE_VERSION_ID] !== src.versionId) return false;
  const etag = dstMetadata[META_SOURCE_ETAG];
  return etag === undefined || etag === normalizeEtag(src.etag);
}

/** The source versions a run mirrors: delete markers only with --delete. */
export function mirroredVersions(src: VersionEntry[], withDeleteMarkers: boolean): VersionEntry[] {
  return withDeleteMarkers ? src : src.filter((v) => !v.deleteMarker);
}

export interface Anchor {
  /** index in the destination list (oldest first) of the newest version convoy copied */
  dstIndex: number;
  /** the source VersionId recorded in its metadata */
  srcVersionId: string;
}

/**
 * The source versions still to apply, in order. `src` is the mirrored list (mirroredVersions),
 * `dst` the destination's whole list, both oldest first.
 */
export function pendingVersions(src: VersionEntry[], dst: VersionEntry[], anchor: Anchor | undefined): VersionEntry[] {
  const from = anchor ? src.findIndex((v) => v.versionId === anchor.srcVersionId) + 1 : 0;
  if (anchor && from === 0) return src; // the anchor's source version is gone: treat as foreign
  // delete markers already mirrored after the anchor (or, with none, in the whole destination)
  let markers = dst.slice(anchor ? anchor.dstIndex + 1 : 0).filter((v) => v.deleteMarker).length;
  let i = from;
  while (markers > 0 && i < src.length && src[i]!.deleteMarker) {
    markers--;
    i++;
  }
  return src.slice(i);
}

/** The destination object versions to look at for an anchor, newest first (delete markers have no metadata). */
export function anchorCandidates(dst: VersionEntry[]): number[] {
  const out: number[] = [];
  for (let i = dst.length - 1; i >= 0; i--) if (!dst[i]!.deleteMarker) out.push(i);
  return out;
}

/**
 * A key with no current version: nothing, or a delete marker as its newest entry. A destination
 * key the source never had is in sync in that state (--delete put the marker there).
 */
export function currentlyDeleted(dst: VersionEntry[]): boolean {
  return !dst.length || dst.at(-1)!.deleteMarker;
}

export type VersionsVerdict = 'ok' | 'missing' | 'versions_differ' | 'extra';

/**
 * Compare a key's mirrored source versions with the destination's, position by position: the
 * same count, a delete marker where the source has one, and each object version the same size
 * with the same ETag or (for ETags that differ, as multipart copies' do) the destination's
 * recorded source version (copiedFrom). `dstCopiedFrom(i, s)` says it for destination index i
 * (those indexes are `indexesToHead`).
 */
export function compareVersionLists(
  src: VersionEntry[],
  dst: VersionEntry[],
  dstCopiedFrom: (i: number, s: VersionEntry) => boolean,
): { verdict: VersionsVerdict; firstDifference?: number } {
  if (!dst.length) return { verdict: src.length ? 'missing' : 'ok' };
  if (!src.length) return { verdict: currentlyDeleted(dst) ? 'ok' : 'extra' };
  const n = Math.max(src.length, dst.length);
  for (let i = 0; i < n; i++) {
    const s = src[i];
    const d = dst[i];
    if (!s || !d || s.deleteMarker !== d.deleteMarker) return { verdict: 'versions_differ', firstDifference: i };
    if (s.deleteMarker) continue;
    if (s.size !== d.size) return { verdict: 'versions_differ', firstDifference: i };
    if (s.etag === d.etag) continue;
    // two plain MD5 ETags that differ are different bytes, whatever the metadata says
    if (!s.etag.includes('-') && !d.etag.includes('-')) return { verdict: 'versions_differ', firstDifference: i };
    if (!dstCopiedFrom(i, s)) return { verdict: 'versions_differ', firstDifference: i };
  }
  return { verdict: 'ok' };
}

/** Destination indexes whose recorded source VersionId compareVersionLists needs (a HEAD each). */
export function indexesToHead(src: VersionEntry[], dst: VersionEntry[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < Math.min(src.length, dst.length); i++) {
    const s = src[i]!;
    const d = dst[i]!;
    if (s.deleteMarker || d.deleteMarker || s.size !== d.size || s.etag === d.etag) continue;
    if (s.etag.includes('-') || d.etag.includes('-')) out.push(i);
  }
  return out;
}
