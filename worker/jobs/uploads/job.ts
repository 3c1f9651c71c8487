/**
 * The runtime of the uploads kind: per customer / space / upload, build the sharded DAG index from
 * the CAR shards, register it over UCAN, re-publish location claims with the space, authorize the
 * gateway once per space, verify. What the kind adds to convoy is declared in ./plugin.ts.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { itemsOfRun } from '../../../state/item-bulk.js';
import type { JobKind, VerifySummary } from '../../job-kind.js';
import { expandItem, KIND } from './expand.js';
import { migrateUpload } from './migrate-upload.js';
import { planUploads } from './plan.js';
import { UploadsReport, uploadsRateAssumption } from './report.js';
import { runtimeForRun, uploadsRuntime } from './runtime.js';
import { uploadsSpecSchema, type ItemSpec, type UploadsSpec } from './spec.js';

export const uploadsKind: JobKind<UploadsSpec> = {
  kind: KIND,
  specSchema: uploadsSpecSchema as never,
  async preflight(_spec, ctx) {
    await uploadsRuntime(ctx); // config, keys and proofs parse, remote exists
  },
  plan: planUploads,
  async handle(item, ictx) {
    const rt = runtimeForRun(await uploadsRuntime(ictx.ctx), ictx.ctx, ictx.run.runId, ictx.spec);
    if ((item.spec as ItemSpec).type === 'upload') return migrateUpload(item, ictx, rt);
    return expandItem(item, ictx, rt);
  },
  async verify(run, spec, ctx, opts): Promise<VerifySummary> {
    // dry-run: the estimate's rate comes from this installation's own finished runs when it can
    const report = new UploadsReport(
      spec,
      spec.mode === 'dry-run' ? await uploadsRateAssumption(ctx, spec, run.runId) : undefined,
    );
    const out = createWriteStream(opts.reportPath);
    for await (const page of itemsOfRun(ctx.items, run.runId)) {
      for (const item of page) {
        const line = report.add(item);
        if (line && !out.write(JSON.stringify(line) + '\n')) await once(out, 'drain');
      }
    }
    await new Promise<void>((resolve) => out.end(resolve));
    return { counts: report.counts, clean: report.clean, reportPath: opts.reportPath, lines: report.lines() };
  },
};
