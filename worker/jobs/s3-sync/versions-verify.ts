/**
 * `convoy verify --run R` for an `--all-versions` run: each key's version list on both sides,
 * compared position by position (versions-order.ts compareVersionLists): the count, the order,
 * delete markers where the source has them (--delete), each version's size and ETag, or for ETags
 * that differ (multipart), the source VersionId the destination version recorded. A JSONL report
 * with one line per key that differs (both lists, oldest first, and the first position that
 * differs) and a final summary line.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import type { ConvoyContext } from '../../../shared/context.js';
import type { RunRow } from '../../../state/runs.js';
import type { VerifyOptions, VerifySummary } from '../../job-kind.js';
import { copyTargetFor } from './endpoints.js';
import { buildKeyFilter } from './filters.js';
import { destKeyFor, groupOf, type S3SyncSpec } from './spec.js';
import { joinVersions, listKeyVersions, tolerateMissingBucket, type VersionEntry } from './versions-listing.js';
import {
  compareVersionLists,
  copiedFrom,
  indexesToHead,
  mirroredVersions,
  type VersionsVerdict,
} from './versions-order.js';

const brief = (vs: VersionEntry[]) =>
  vs.slice(0, 20).map((v) => (v.deleteMarker ? { deleteMarker: true } : { size: v.size, etag: v.etag }));

export async function verifyVersions(
  run: RunRow,
  spec: S3SyncSpec,
  ctx: ConvoyContext,
  opts: VerifyOptions,
): Promise<VerifySummary> {
  const counts: Record<VersionsVerdict, number> = { ok: 0, missing: 0, versions_differ: 0, extra: 0 };
  const versions = { source: 0, destination: 0 };
  const filter = buildKeyFilter(spec);
  const out = createWriteStream(opts.reportPath);
  const write = async (line: unknown) => {
    if (!out.write(JSON.stringify(line) + '\n')) await once(out, 'drain');
  };
  for (const [i, pair] of spec.pairs.entries()) {
    const t = copyTargetFor(ctx.config, pair);
    for (const prefix of spec.resolvedPrefixes?.[i] ?? [pair.from.prefix]) {
      const src = listKeyVersions(t.src, { bucket: pair.from.bucket, prefix });
      const dst = tolerateMissingBucket(
        listKeyVersions(t.dst, { bucket: pair.to.bucket, prefix: destKeyFor(pair, prefix) }),
      );
      for await (const e of joinVersions(src, pair.from.prefix, dst, pair.to.prefix)) {
        if (!filter(e.rel)) continue;
        const wanted = mirroredVersions(e.src?.versions ?? [], spec.delete);
        const have = e.dst?.versions ?? [];
        const dstKey = e.dst?.key ?? destKeyFor(pair, e.src!.key);
        const metadata = new Map<number, Record<string, string> | undefined>();
        for (const at of indexesToHead(wanted, have)) {
          const head = await t.dst
            .send(new HeadObjectCommand({ Bucket: pair.to.bucket, Key: dstKey, VersionId: have[at]!.versionId }))
            .catch(() => undefined);
          metadata.set(at, head?.Metadata);
        }
        const c = compareVersionLists(wanted, have, (at, s) => copiedFrom(metadata.get(at), s));
        counts[c.verdict]++;
        versions.source += wanted.length;
        versions.destination += have.length;
        if (c.verdict === 'ok') continue;
        await write({
          verdict: c.verdict,
          pair: groupOf(pair),
          srcKey: e.src?.key,
          dstKey,
          firstDifference: c.firstDifference,
          srcVersions: wanted.length,
          dstVersions: have.length,
          src: brief(wanted),
          dst: brief(have),
        });
      }
    }
  }
  const clean = counts.missing + counts.versions_differ + (opts.allowExtra ? 0 : counts.extra) === 0;
  await write({ summary: true, runId: run.runId, allVersions: true, clean, counts, versions, delete: spec.delete });
  out.end();
  await once(out, 'finish');
  const lines = [
    `verify ${run.runId}: ${clean ? 'CLEAN' : 'DIFFERENCES FOUND'} (all versions${spec.delete ? ', delete markers' : ''})`,
    `  keys: ok ${counts.ok}  missing ${counts.missing}  versions_differ ${counts.versions_differ}  extra ${counts.extra}`,
    `  versions: source ${versions.source}  destination ${versions.destination}`,
  ];
  if (counts.versions_differ)
    lines.push(
      `  ${counts.versions_differ} key(s) whose destination versions differ from the source's (count, order, delete markers or content): see ${opts.reportPath}`,
    );
  return { counts, clean, reportPath: opts.reportPath, lines };
}
