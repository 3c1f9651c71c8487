/**
 * `convoy plan pg-to-dynamodb`: flags -> spec, checked, then a planned run.
 */
import type { Command } from 'commander';
import { newRunId, planRun } from '../../../coordinator/plan.js';
import { action } from '../../../coordinator/cli/errors.js';
import { planThenWork } from '../../../coordinator/cli/work-here.js';
import {
  intOption,
  positiveNumberOption,
  retryPolicyFrom,
  withContext,
  runIdOption,
} from '../../../coordinator/cli/globals.js';
import { pgDynamoSpecFromFlags, type PgToDynamoFlags } from './plan.js';

export function registerPlanCommand(plan: Command): void {
  plan
    .command('pg-to-dynamodb')
    .description(
      'backfill a DynamoDB table from PostgreSQL: key ranges from quantiles, keyset pages, a mapping or transform',
    )
    .requiredOption('--from <url>', 'postgres://user@host:5432/db (password from PGPASSWORD or ~/.pgpass)')
    .option('--table <name>', 'source table (schema.table)')
    .option('--query <sql>', 'source query instead of a table')
    .requiredOption('--key <column>', 'range column, numeric or timestamp')
    .option('--tiebreak <column...>', 'columns making (key, tiebreak) unique (default: the primary key)')
    .requiredOption('--to <remote:table>', 'destination table, e.g. local:parking')
    .option('--mapping <file.json>', 'declarative mapping (keys, attributes, ttl)')
    .option('--transform <module>', 'module exporting (row) => item | item[] | null')
    .option('--ranges <n>', 'key ranges (= work items), default 16', intOption('--ranges'))
    .option('--page-size <n>', 'rows per page, default 1000', intOption('--page-size'))
    .option('--updated-column <column>', "column with each row's last change time (enables --since later)")
    .option('--since <run-id|timestamp>', "catch-up pass: only rows changed after that run's watermark (or the time)")
    .option(
      '--since-overlap <seconds>',
      'seconds before the watermark to re-read, default 300',
      intOption('--since-overlap'),
    )
    .option('--max-wcu <n>', 'write capacity units per second for the whole run', positiveNumberOption('--max-wcu'))
    .option(
      '--write-concurrency <n>',
      'BatchWriteItem calls in flight per range (default 8)',
      intOption('--write-concurrency'),
    )
    .option('--run <id>', 'run id', runIdOption)
    .action(
      action(async (opts: PgToDynamoFlags & { run?: string; sinceOverlap?: number }, cmd: Command) =>
        withContext(cmd, async (ctx) => {
          const spec = await pgDynamoSpecFromFlags({ ...opts, sinceOverlapSeconds: opts.sinceOverlap }, ctx);
          const runId = opts.run ?? newRunId('pg-to-dynamodb');
          return planThenWork(
            cmd,
            ctx,
            runId,
            () => planRun(ctx, { kind: 'pg-to-dynamodb', runId, spec, retry: retryPolicyFrom(cmd) }),
            (r) =>
              process.stdout.write(
                `run ${runId}: ${r.itemsEnqueued} range item(s) enqueued${spec.since ? ` (rows changed after ${spec.since})` : ''}${spec.watermark ? `; watermark ${spec.watermark}` : ''}\n`,
              ),
          );
        }),
      ),
    );
}
