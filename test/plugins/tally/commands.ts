/** The tally kind's commands: `convoy plan tally` and `convoy tally show` (see ./plugin.ts). */
import { CreateBucketCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import type { Command } from 'commander';
import { action } from '../../../coordinator/cli/errors.js';
import { intOption, retryPolicyFrom, runIdOption, withContext } from '../../../coordinator/cli/globals.js';
import { newRunId, planRun } from '../../../coordinator/plan.js';
import { InputError } from '../../../shared/errors.js';
import { getRun } from '../../../state/runs.js';
import { s3Of } from './job.js';
import { TALLY_KIND, tallySpecSchema } from './spec.js';

export function registerTallyPlan(plan: Command): void {
  plan
    .command(TALLY_KIND)
    .description('(tests) write one small object per item into a local bucket')
    .requiredOption('--bucket <name>', 'destination bucket on the local remote (created if missing)')
    .requiredOption('--count <n>', 'items', intOption('--count'))
    .option('--run <id>', 'run id', runIdOption)
    .action(
      action(async (o: { bucket: string; count: number; run?: string }, cmd: Command) =>
        withContext(cmd, async (ctx) => {
          const spec = tallySpecSchema.parse({ bucket: o.bucket, count: o.count });
          await s3Of(ctx)
            .send(new CreateBucketCommand({ Bucket: spec.bucket }))
            .catch(() => undefined);
          const runId = o.run ?? newRunId(TALLY_KIND);
          const r = await planRun(ctx, { kind: TALLY_KIND, runId, spec, retry: retryPolicyFrom(cmd) });
          process.stdout.write(`${runId}: planned ${r.itemsWritten} item(s)\n`);
        }),
      ),
    );
}

export function registerTallyCommands(program: Command): void {
  program
    .command('tally')
    .description('(tests) the tally kind')
    .command('show')
    .requiredOption('--run <id>', 'run id', runIdOption)
    .action(
      action(async (o: { run: string }, cmd: Command) =>
        withContext(cmd, async (ctx) => {
          const run = await getRun(ctx.meta, o.run);
          if (!run || run.kind !== TALLY_KIND) throw new InputError(`run "${o.run}" is not a tally run`);
          const out = await s3Of(ctx).send(
            new ListObjectsV2Command({ Bucket: String(run.spec.bucket), Prefix: 'tally/' }),
          );
          process.stdout.write(`run ${o.run}: ${out.KeyCount ?? 0} object(s) in ${String(run.spec.bucket)}\n`);
        }),
      ),
    );
}
