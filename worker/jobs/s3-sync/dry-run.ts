/**
 * `convoy plan s3-sync --dry-run`: per bucket pair, the objects and bytes that would be copied and
 * skipped (and with --delete, deleted), computed by the same comparison the workers use. Writes
 * nothing anywhere. The keys a --delete would remove are handed to `onDelete` as they are found
 * (printed one per line, like `aws s3 sync --delete --dryrun`), so no listing is held in memory.
 */
import type { ConvoyConfig } from '../../../shared/config.js';
import { compareRun } from './compare.js';
import { groupOf, type S3SyncSpec } from './spec.js';

export interface DryRunPairReport {
  pair: string;
  prefixes: string[];
  copy: { objects: number; bytes: number };
  skip: { objects: number; bytes: number };
  /** destination objects the source lacks: left alone, or with --delete deleted */
  extra: number;
  /** with --delete: what would be deleted */
  delete?: { objects: number; bytes: number };
  /**
   * --all-versions (versions-dry-run.ts): copy and skip count versions, `delete` the destination
   * keys that would get a delete marker, and this the source delete markers to mirror (--delete)
   */
  deleteMarkers?: number;
}

/** One empty report per bucket pair (latest-only here, --all-versions in versions-dry-run.ts). */
export function emptyDryRunReports(spec: S3SyncSpec, opts: { versions: boolean }): DryRunPairReport[] {
  return spec.pairs.map((p, i) => ({
    pair: groupOf(p),
    prefixes: spec.resolvedPrefixes?.[i] ?? [p.from.prefix],
    copy: { objects: 0, bytes: 0 },
    skip: { objects: 0, bytes: 0 },
    extra: 0,
    ...(spec.delete ? { delete: { objects: 0, bytes: 0 } } : {}),
    ...(opts.versions ? { deleteMarkers: 0 } : {}),
  }));
}

export async function dryRunS3Sync(
  config: ConvoyConfig,
  spec: S3SyncSpec,
  onDelete?: (pair: number, location: string) => void,
): Promise<DryRunPairReport[]> {
  const reports = emptyDryRunReports(spec, { versions: false });
  for await (const e of compareRun(config, spec)) {
    const r = reports[e.pair]!;
    if (e.verdict === 'extra') {
      r.extra++;
      if (r.delete) {
        r.delete.objects++;
        r.delete.bytes += e.dst!.size;
        const to = spec.pairs[e.pair]!.to;
        onDelete?.(e.pair, `${to.remote}:${to.bucket}/${e.dstKey}`);
      }
    } else if (e.verdict === 'ok') {
      r.skip.objects++;
      r.skip.bytes += e.src!.size;
    } else {
      r.copy.objects++;
      r.copy.bytes += e.src!.size;
    }
  }
  return reports;
}

export function formatDryRun(reports: DryRunPairReport[]): string {
  const mib = (b: number) => (b / 1024 / 1024).toFixed(1);
  const width = Math.max(4, ...reports.map((r) => r.pair.length));
  const versions = reports.some((r) => r.deleteMarkers !== undefined);
  const unit = versions ? 'versions' : 'objects';
  const lines = [
    `DRY RUN: nothing was written${versions ? ' (--all-versions: counts are versions)' : ''}`,
    versions
      ? `${'pair'.padEnd(width)} copy versions    copy MiB skip versions    skip MiB`
      : `${'pair'.padEnd(width)}  copy objects    copy MiB  skip objects    skip MiB`,
  ];
  for (const r of reports) {
    lines.push(
      `${r.pair.padEnd(width)}  ${String(r.copy.objects).padStart(12)} ${mib(r.copy.bytes).padStart(11)}  ${String(r.skip.objects).padStart(12)} ${mib(r.skip.bytes).padStart(11)}`,
    );
    if (r.prefixes.some((p) => p !== '')) lines.push(`    prefixes: ${r.prefixes.join(', ')}`);
  }
  const total = reports.reduce((a, r) => ({ o: a.o + r.copy.objects, b: a.b + r.copy.bytes }), { o: 0, b: 0 });
  lines.push(`total to copy: ${total.o} ${unit}, ${mib(total.b)} MiB`);
  const markers = reports.reduce((a, r) => a + (r.deleteMarkers ?? 0), 0);
  if (markers) lines.push(`delete markers to mirror: ${markers}`);
  const extra = reports.reduce((a, r) => a + r.extra, 0);
  if (reports.some((r) => r.delete)) {
    const del = reports.reduce((a, r) => ({ o: a.o + r.delete!.objects, b: a.b + r.delete!.bytes }), { o: 0, b: 0 });
    lines.push(
      versions
        ? `total to delete: ${del.o} keys, ${mib(del.b)} MiB (--delete: destination keys the source lacks get a delete marker; their versions stay)`
        : `total to delete: ${del.o} objects, ${mib(del.b)} MiB (--delete: destination keys the source lacks, within the synced prefixes and filters)`,
    );
  } else if (extra) {
    lines.push(
      `left alone: ${extra} destination ${versions ? 'key' : 'object'}(s) the source lacks (add --delete to delete them)`,
    );
  }
  return lines.join('\n');
}
