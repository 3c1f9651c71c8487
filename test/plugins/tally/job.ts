/** The tally kind's runtime: planner, handler, verifier (see ./plugin.ts). */
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { writeFileSync } from 'node:fs';
import { makeS3Client } from '../../../shared/s3-clients.js';
import { getRemote } from '../../../shared/config.js';
import type { ConvoyContext } from '../../../shared/context.js';
import { itemsOfRun } from '../../../state/item-bulk.js';
import type { JobKind } from '../../../worker/job-kind.js';
import { TALLY_KIND, tallyKey, tallySpecSchema, workerStamp, type TallySpec } from './spec.js';

const clients = new WeakMap<ConvoyContext, S3Client>();
export function s3Of(ctx: ConvoyContext): S3Client {
  let c = clients.get(ctx);
  if (!c) {
    c = makeS3Client(getRemote(ctx.config, 'local'));
    clients.set(ctx, c);
  }
  return c;
}

export const tallyKind: JobKind<TallySpec> = {
  kind: TALLY_KIND,
  specSchema: tallySpecSchema as never,
  async preflight() {},
  async *plan(spec) {
    for (let n = 0; n < spec.count; n++)
      yield { itemId: `tally:${n}`, kind: TALLY_KIND, group: `team-${n % 3}/batch-${n % 2}`, spec: { n } };
  },
  async handle(item, { ctx, spec, signal, assertLease }) {
    const n = Number(item.spec.n);
    const body = `${n} ${workerStamp.value}`;
    assertLease();
    await s3Of(ctx).send(new PutObjectCommand({ Bucket: spec.bucket, Key: tallyKey(n), Body: body }), {
      abortSignal: signal,
    });
    return { bytes: body.length, objects: 1 };
  },
  async verify(run, spec, ctx, opts) {
    const counts: Record<string, number> = { ok: 0, missing: 0, not_done: 0 };
    const lines: string[] = [];
    for await (const page of itemsOfRun(ctx.items, run.runId))
      for (const item of page) {
        if (item.status !== 'done') {
          counts.not_done!++;
          lines.push(JSON.stringify({ itemId: item.itemId, category: 'not_done' }));
          continue;
        }
        const n = Number(item.spec.n);
        try {
          const out = await s3Of(ctx).send(new GetObjectCommand({ Bucket: spec.bucket, Key: tallyKey(n) }));
          const text = await out.Body!.transformToString();
          if (!text.startsWith(`${n} `)) throw new Error('wrong body');
          counts.ok!++;
        } catch {
          counts.missing!++;
          lines.push(JSON.stringify({ itemId: item.itemId, category: 'missing', key: tallyKey(n) }));
        }
      }
    writeFileSync(opts.reportPath, lines.map((l) => `${l}\n`).join(''));
    lines.push(`verify ${run.runId}: ok ${counts.ok} missing ${counts.missing} not done ${counts.not_done}`);
    return { counts, clean: counts.missing === 0 && counts.not_done === 0, reportPath: opts.reportPath, lines };
  },
};
