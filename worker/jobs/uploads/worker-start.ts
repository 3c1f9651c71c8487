/**
 * `convoy worker --customers-file instance-1.json` (how the CDK's `convoy-start` launches every
 * production worker): plan those customers first, then work the SHARED queue, so an idle instance
 * helps with any customer's work. The run id is derived from the file's content, so every restart
 * of the instance re-plans the same run, which is idempotent. A missing or malformed file is an
 * InputError (exit 2) before anything is written.
 */
import { createHash } from 'node:crypto';
import type { EngineContext } from '../../job-kind.js';
import { planUploadsRun } from './plan-command.js';
import { readCustomersFile } from './plan.js';

export async function planCustomersFile(ctx: EngineContext, opts: Record<string, unknown>): Promise<void> {
  const file = opts.customersFile as string | undefined;
  if (!file) return;
  const customers = readCustomersFile(file);
  const digest = createHash('sha256').update(customers.join('\n')).digest('hex').slice(0, 12);
  const runId = (opts.run as string[] | undefined)?.[0] ?? `uploads-${digest}`;
  const r = await planUploadsRun(ctx, { customer: customers, run: runId });
  ctx.log.info(
    { runId, planned: r.planned, items: r.itemsWritten, customers: customers.length, file },
    'planned customers file',
  );
}
