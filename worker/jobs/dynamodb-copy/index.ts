/**
 * dynamodb-copy: copy a DynamoDB table into another (runbook 002's dev -> prod), as parallel Scan
 * segments with resume, built-in rules and an optional transform module, a write budget, a dry
 * run and a verifier. Registered once; `convoy plan dynamodb-copy` is its command.
 */
import type { Command } from 'commander';
import { planRun, newRunId } from '../../../coordinator/plan.js';
import { action } from '../../../coordinator/cli/errors.js';
import { configFrom, intOption, withContext } from '../../../coordinator/cli/globals.js';
import { InputError } from '../../../shared/errors.js';
import { addBuiltInKind } from '../index.js';
import type { JobKind } from '../types.js';
import { readTransformSource } from '../shared-tables/transform-module.js';
import { copySegment } from './handler.js';
import { dryRunCopy, preflightCopy } from './preflight.js';
import { copySpecSchema, specFromFlags, type CopyFlags, type CopySpec } from './spec.js';
import { verifyCopy } from './verify.js';

export const dynamodbCopyKind: JobKind<CopySpec> = {
  kind: 'dynamodb-copy',
  specSchema: copySpecSchema as never,
  async preflight(spec, ctx) {
    await preflightCopy(spec, ctx.config);
  },
  async *plan(spec) {
    for (let n = 0; n < spec.segments; n++) {
      yield { itemId: `segment:${n}/${spec.segments}`, kind: 'dynamodb-copy', group: spec.from.table, spec: { segment: n, total: spec.segments } };
    }
  },
  handle: copySegment,
  verify: verifyCopy,
};

export const collect = (v: string, prev: string[] = []) => [...prev, v];
export const numberOption = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InputError(`${name} must be a positive number, got "${v}"`);
  return n;
};

/** Build the spec from flags, reading (and checking) the transform module. */
export async function copySpecFromFlags(flags: CopyFlags & { transform?: string }, nowMs = Date.now()): Promise<CopySpec> {
  const base = specFromFlags(flags, nowMs);
  const transform = flags.transform ? await readTransformSource(flags.transform) : undefined;
  return copySpecSchema.parse({ ...base, transform });
}

function registerPlanCommand(plan: Command): void {
  plan
    .command('dynamodb-copy')
    .description('copy a DynamoDB table into another: parallel Scan segments, rules/transform, BatchWriteItem with retries')
    .requiredOption('--from <remote:table>', 'source table, e.g. local:dev-table')
    .requiredOption('--to <remote:table>', 'destination table (must exist), e.g. local:prod-table')
    .option('--segments <n>', 'parallel Scan segments (= work items)', intOption('--segments'))
    .option('--page-size <n>', 'Scan page size in items (default: 1 MB pages)', intOption('--page-size'))
    .option('--rewrite <old=new>', 'replace old with new in every string attribute, nested ones included (repeatable)', collect)
    .option('--rename <old=new>', 'rename a top-level attribute (repeatable)', collect)
    .option('--drop <attr>', 'drop a top-level attribute (repeatable)', collect)
    .option('--ttl <attr[:keep|:drop|:recompute=<s>]>', 'TTL attribute handling (default keep)')
    .option('--transform <module>', 'module exporting (item) => item | item[] | null (.js, .mjs or .ts)')
    .option('--max-wcu <n>', 'write capacity units per second for the whole run', numberOption('--max-wcu'))
    .option('--write-concurrency <n>', 'BatchWriteItem calls in flight per segment (default 8)', intOption('--write-concurrency'))
    .option('--run <id>', 'run id (default dynamodb-copy-<time>-<rand>)')
    .option('--dry-run', 'count items per segment and show a sample transformed; write nothing')
    .action(
      action(async (opts: CopyFlags & { transform?: string; run?: string; dryRun?: boolean }, cmd: Command) => {
        const spec = await copySpecFromFlags(opts);
        if (opts.dryRun) {
          const report = await dryRunCopy(spec, configFrom(cmd));
          process.stdout.write(JSON.stringify(report, null, 2) + '\n');
          return;
        }
        await withContext(cmd, async (ctx) => {
          const runId = opts.run ?? newRunId('dynamodb-copy');
          const r = await planRun(ctx, { kind: 'dynamodb-copy', runId, spec });
          process.stdout.write(`run ${runId}: ${r.itemsEnqueued} segment item(s) enqueued${r.planned ? '' : ' (already planned)'}\n`);
        });
      }),
    );
}

addBuiltInKind(dynamodbCopyKind, registerPlanCommand);
