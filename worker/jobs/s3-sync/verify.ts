/**
 * `convoy verify --run R` for s3-sync: every synced key compared (missing, size differs, checksum
 * differs, extra), a JSONL report with one line per difference and a final summary line.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type { ConvoyContext } from '../../../shared/context.js';
import type { RunRow } from '../../../state/runs.js';
import type { VerifyOptions, VerifySummary } from '../types.js';
import { compareRun, type Verdict } from './compare.js';
import { groupOf, type S3SyncSpec } from './spec.js';

export async function verifyS3Sync(run: RunRow, spec: S3SyncSpec, ctx: ConvoyContext, opts: VerifyOptions): Promise<VerifySummary> {
  const counts: Record<Verdict, number> = { ok: 0, missing: 0, size_differs: 0, checksum_differs: 0, extra: 0 };
  const perPair = spec.pairs.map(() => ({ ok: 0, differ: 0 }));
  const out = createWriteStream(opts.reportPath);
  const write = async (line: unknown) => {
    if (!out.write(JSON.stringify(line) + '\n')) await once(out, 'drain');
  };
  for await (const e of compareRun(ctx.config, spec)) {
    counts[e.verdict]++;
    if (e.verdict === 'ok') perPair[e.pair]!.ok++;
    else {
      perPair[e.pair]!.differ++;
      await write({ verdict: e.verdict, pair: groupOf(spec.pairs[e.pair]!), srcKey: e.srcKey, dstKey: e.dstKey, srcSize: e.src?.size, dstSize: e.dst?.size, srcEtag: e.src?.etag, dstEtag: e.dst?.etag });
    }
  }
  const clean = counts.missing + counts.size_differs + counts.checksum_differs + counts.extra === 0;
  await write({ summary: true, runId: run.runId, clean, counts });
  out.end();
  await once(out, 'finish');
  const lines = [
    `verify ${run.runId}: ${clean ? 'CLEAN' : 'DIFFERENCES FOUND'}`,
    ...spec.pairs.map((p, i) => `  ${groupOf(p)}: ${perPair[i]!.ok} identical, ${perPair[i]!.differ} different`),
    `  ok ${counts.ok}  missing ${counts.missing}  size_differs ${counts.size_differs}  checksum_differs ${counts.checksum_differs}  extra ${counts.extra}`,
  ];
  return { counts, clean, reportPath: opts.reportPath, lines };
}
