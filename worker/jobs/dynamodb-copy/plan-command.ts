/**
 * `convoy plan dynamodb-copy`: flags -> spec (reading and checking a transform module), a dry run,
 * or a planned run.
 */
import type { Command } from 'commander';
import { planRun, newRunId } from '../../../coordinator/plan.js';
import { action } from '../../../coordinator/cli/errors.js';
import { planThenWork, refuseWorkWithDryRun } from '../../../coordinator/cli/work-here.js';
import {
  configFrom,
  intOption,
  positiveNumberOption,
  withContext,
  runIdOption,
  retryPolicyFrom,
} from '../../../coordinator/cli/globals.js';
import { readTransformSource } from '../table-io/transform-module.js';
import { dryRunCopy } from './preflight.js';
import { copySpecSchema, specFromFlags, type CopyFlags, type CopySpec } from './spec.js';

export const collect = (v: string, prev: string[] = []) => [...prev, v];

/** Build the spec from flags, reading (and checking) the transform module. */
export async function copySpecFromFlags(
  flags: CopyFlags & { transform?: string },
  nowMs = Date.now(),
): Promise<CopySpec> {
  const base = specFromFlags(flags, nowMs);
  const transform = flags.transform ? await readTransformSource(flags.transform) : undefined;
  return copySpecSchema.parse({ ...base, transform });
}

export function registerPlanCommand(plan: Command): void {
  plan
    .command('dynamodb-copy')
    .description(
      'copy a DynamoDB table into another: parallel Scan segments, rules/transform, BatchWriteItem with retries',
    )
    .requiredOption('--from <remote:table>', 'source table, e.g. local:dev-table')
    .requiredOption('--to <remote:table>', 'destination table (must exist), e.g. local:prod-table')
    .option('--segments <n>', 'parallel Scan segments (= work items)', intOption('--segments'))
    .option('--page-size <n>', 'Scan page size in items (default: 1 MB pages)', intOption('--page-size'))
    .option(
      '--rewrite <old=new>',
      'replace old with new in every string attribute, nested ones included (repeatable)',
      collect,
    )
    .option('--rename <old=new>', 'rename a top-level attribute (repeatable)', collect)
    .option('--drop <attr>', 'drop a top-level attribute (repeatable)', collect)
    .option('--ttl <attr[:keep|:drop|:recompute=<s>]>', 'TTL attribute handling (default keep)')
    .option('--transform <module>', 'module exporting (item) => item | item[] | null (.js, .mjs or .ts)')
    .option('--max-wcu <n>', 'write capacity units per second for the whole run', positiveNumberOption('--max-wcu'))
    .option(
      '--write-concurrency <n>',
      'BatchWriteItem calls in flight per segment (default 8)',
      intOption('--write-concurrency'),
    )
    .option('--run <id>', 'run id (default dynamodb-copy-<time>-<rand>)', runIdOption)
    .option('--dry-run', 'count items per segment and show a sample transformed; write nothing')
    .action(
      action(async (opts: CopyFlags & { transform?: string; run?: string; dryRun?: boolean }, cmd: Command) => {
        if (opts.dryRun) refuseWorkWithDryRun(cmd);
        const spec = await copySpecFromFlags(opts);
        if (opts.dryRun) {
          const report = await dryRunCopy(spec, configFrom(cmd));
          process.stdout.write(JSON.stringify(report, null, 2) + '\n');
          return;
        }
        return withContext(cmd, async (ctx) => {
          const runId = opts.run ?? newRunId('dynamodb-copy');
          return planThenWork(
            cmd,
            ctx,
            runId,
            () => planRun(ctx, { kind: 'dynamodb-copy', runId, spec, retry: retryPolicyFrom(cmd) }),
            (r) =>
              process.stdout.write(
                `run ${runId}: ${r.itemsEnqueued} segment item(s) enqueued${r.planned ? '' : ' (already planned)'}\n`,
              ),
          );
        });
      }),
    );
}
