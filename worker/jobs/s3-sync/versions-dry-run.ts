/**
 * `convoy plan s3-sync --all-versions --dry-run`: per bucket pair, the versions (and with --delete
 * the delete markers) that would be copied and skipped, and the destination keys the source lacks
 * that would get a delete marker, in the report shape of a latest-only dry run (dry-run.ts).
 * Each key's pending versions come from the rule the copy follows (versions-decide.ts), so what is
 * listed is what a run would write. Reads only: listings and HEADs of destination versions.
 * Entries are handed to `onEntry` as found (oldest first within a key), so nothing is held.
 */
import type { ConvoyConfig } from '../../../shared/config.js';
import { emptyDryRunReports, type DryRunPairReport } from './dry-run.js';
import { copyTargetFor } from './endpoints.js';
import { buildKeyFilter } from './filters.js';
import { destKeyFor, type S3SyncSpec } from './spec.js';
import { decideKeyVersions } from './versions-decide.js';
import { joinVersions, listKeyVersions, tolerateMissingBucket } from './versions-listing.js';

export type VersionsDryRunEntry =
  | { pair: number; action: 'copy'; key: string; versionId: string; deleteMarker: boolean; size: number }
  | { pair: number; action: 'delete'; location: string };

export async function dryRunVersions(
  config: ConvoyConfig,
  spec: S3SyncSpec,
  onEntry: (e: VersionsDryRunEntry) => void,
): Promise<DryRunPairReport[]> {
  const filter = buildKeyFilter(spec);
  const reports = emptyDryRunReports(spec, { versions: true });
  for (const [i, pair] of spec.pairs.entries()) {
    const r = reports[i]!;
    const t = copyTargetFor(config, pair);
    for (const prefix of r.prefixes) {
      const src = listKeyVersions(t.src, { bucket: pair.from.bucket, prefix });
      const dst = tolerateMissingBucket(
        listKeyVersions(t.dst, { bucket: pair.to.bucket, prefix: destKeyFor(pair, prefix) }),
      );
      for await (const e of joinVersions(src, pair.from.prefix, dst, pair.to.prefix)) {
        if (!filter(e.rel)) continue;
        const destKey = e.dst?.key ?? destKeyFor(pair, e.src!.key);
        const d = await decideKeyVersions({ s3: t.dst, bucket: pair.to.bucket }, e.src, e.dst, destKey, {
          deleteMarkers: spec.delete,
        });
        if (!e.src) {
          const newest = e.dst!.versions.at(-1)!;
          if (!newest.deleteMarker) r.extra++;
          if (d.markExtra && r.delete) {
            r.delete.objects++;
            r.delete.bytes += newest.size;
            onEntry({ pair: i, action: 'delete', location: `${pair.to.remote}:${pair.to.bucket}/${destKey}` });
          }
          continue;
        }
        r.skip.objects += d.skipped;
        r.skip.bytes += d.skippedBytes;
        for (const v of d.pending) {
          if (v.deleteMarker) r.deleteMarkers!++;
          else {
            r.copy.objects++;
            r.copy.bytes += v.size;
          }
          onEntry({
            pair: i,
            action: 'copy',
            key: e.src.key,
            versionId: v.versionId,
            deleteMarker: v.deleteMarker,
            size: v.size,
          });
        }
      }
    }
  }
  return reports;
}

/** One text line per entry, as `--dry-run` prints them while it lists. */
export function formatVersionsEntry(spec: S3SyncSpec, e: VersionsDryRunEntry): string {
  if (e.action === 'delete') return `delete: ${e.location}`;
  const from = spec.pairs[e.pair]!.from;
  const what = e.deleteMarker ? 'delete marker' : `${e.size} bytes`;
  return `copy: ${from.remote}:${from.bucket}/${e.key} versionId=${e.versionId} (${what})`;
}
