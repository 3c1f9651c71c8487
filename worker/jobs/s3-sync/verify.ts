/**
 * `convoy verify --run R` for s3-sync: every synced key compared (missing, size differs, checksum
 * differs, extra), a JSONL report with one line per difference and a final summary line.
 *
 * Extras (destination keys the source lacks, within the synced prefixes and filters) are
 * differences: a --delete run should have removed them, and without --delete they are what a
 * vacuum or a retention policy left behind. `verify --allow-extra` accepts them (still counted and
 * reported), for an operator who keeps them on purpose.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type { ConvoyContext } from '../../../shared/context.js';
import type { RunRow } from '../../../state/runs.js';
import type { VerifyOptions, VerifySummary } from '../../job-kind.js';
import { compareRun, type Verdict } from './compare.js';
import { copyTargetFor } from './endpoints.js';
import { groupOf, type S3SyncSpec } from './spec.js';
import { verifyVersions } from './versions-verify.js';
import { withPropertyVerdicts } from './verify-properties.js';

/** `convoy verify` options (`allowExtra`: `--allow-extra`). */
export type S3SyncVerifyOptions = VerifyOptions;

export async function verifyS3Sync(
  run: RunRow,
  spec: S3SyncSpec,
  ctx: ConvoyContext,
  opts: S3SyncVerifyOptions,
): Promise<VerifySummary> {
  if (spec.allVersions) return verifyVersions(run, spec, ctx, opts);
  const counts: Record<Verdict, number> = {
    ok: 0,
    missing: 0,
    size_differs: 0,
    checksum_differs: 0,
    extra: 0,
    storage_class_differs: 0,
    tags_differ: 0,
  };
  const perPair = spec.pairs.map(() => ({ ok: 0, differ: 0 }));
  const out = createWriteStream(opts.reportPath);
  const write = async (line: unknown) => {
    if (!out.write(JSON.stringify(line) + '\n')) await once(out, 'drain');
  };
  const properties = {
    spec,
    pairs: spec.pairs.map((p) => {
      const t = copyTargetFor(ctx.config, p);
      return { src: t.srcObjects, dst: t.dstObjects, srcBucket: p.from.bucket, dstBucket: p.to.bucket };
    }),
    tagsUnchecked: { count: 0 } as { count: number; firstError?: string },
  };
  for await (const e of withPropertyVerdicts(compareRun(ctx.config, spec), properties)) {
    counts[e.verdict]++;
    if (e.verdict === 'ok') perPair[e.pair]!.ok++;
    else {
      perPair[e.pair]!.differ++;
      await write({
        verdict: e.verdict,
        pair: groupOf(spec.pairs[e.pair]!),
        srcKey: e.srcKey,
        dstKey: e.dstKey,
        srcSize: e.src?.size,
        dstSize: e.dst?.size,
        srcEtag: e.src?.etag,
        dstEtag: e.dst?.etag,
        ...(e.verdict === 'storage_class_differs'
          ? { srcStorageClass: e.src?.storageClass, dstStorageClass: e.dst?.storageClass }
          : {}),
        ...(e.verdict === 'tags_differ' ? { srcTags: e.srcTags, dstTags: e.dstTags } : {}),
      });
    }
  }
  const allowExtra = opts.allowExtra === true;
  const clean =
    counts.missing +
      counts.size_differs +
      counts.checksum_differs +
      counts.storage_class_differs +
      counts.tags_differ +
      (allowExtra ? 0 : counts.extra) ===
    0;
  await write({ summary: true, runId: run.runId, clean, counts, allowExtra, delete: spec.delete });
  out.end();
  await once(out, 'finish');
  const accepted = allowExtra && counts.extra ? ` (${counts.extra} extra object(s) accepted: --allow-extra)` : '';
  const lines = [
    `verify ${run.runId}: ${clean ? 'CLEAN' : 'DIFFERENCES FOUND'}${accepted}`,
    ...spec.pairs.map((p, i) => `  ${groupOf(p)}: ${perPair[i]!.ok} identical, ${perPair[i]!.differ} different`),
    `  ok ${counts.ok}  missing ${counts.missing}  size_differs ${counts.size_differs}  checksum_differs ${counts.checksum_differs}  extra ${counts.extra}${
      counts.storage_class_differs || counts.tags_differ
        ? `  storage_class_differs ${counts.storage_class_differs}  tags_differ ${counts.tags_differ}`
        : ''
    }`,
  ];
  if (counts.extra && !allowExtra) lines.push(extraHint(counts.extra, spec.delete));
  const unchecked = properties.tagsUnchecked;
  if (unchecked.count)
    lines.push(
      `  tags of ${unchecked.count} object(s) not compared: GetObjectTagging failed (${unchecked.firstError}); does the endpoint implement it and may this identity call it (s3:GetObjectTagging)?`,
    );
  return { counts, clean, reportPath: opts.reportPath, lines };
}

function extraHint(extra: number, deleted: boolean): string {
  if (deleted) {
    return `  ${extra} destination object(s) the source lacks are still there although the run was planned with --delete: were they written after the run, or did items fail (convoy status)? Plan a new run with the same flags (a new --run id) to delete them.`;
  }
  return `  ${extra} destination object(s) the source lacks were left in place: the run was planned without --delete. Plan again with --delete to remove them, or accept them with convoy verify --allow-extra.`;
}
