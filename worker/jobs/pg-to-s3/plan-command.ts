/**
 * `convoy plan pg-to-s3`: flags -> spec, checked, then a planned run.
 */
import type { Command } from 'commander';
import { newRunId, planRun } from '../../../coordinator/plan.js';
import { action } from '../../../coordinator/cli/errors.js';
import { planThenWork } from '../../../coordinator/cli/work-here.js';
import { intOption, retryPolicyFrom, withContext, runIdOption } from '../../../coordinator/cli/globals.js';
import { manifestKey } from './partitions.js';
import { pgS3SpecFromFlags, type PgToS3Flags } from './plan.js';

export function registerPlanCommand(plan: Command): void {
  plan
    .command('pg-to-s3')
    .description('export an event table to S3: NDJSON+gzip objects per time partition, a manifest per run')
    .requiredOption('--from <url>', 'postgres://user@host:5432/db (password from PGPASSWORD or ~/.pgpass)')
    .option('--table <name>', 'source table')
    .option('--query <sql>', 'source query instead of a table')
    .requiredOption('--time-column <column>', 'timestamp column partitions are cut on')
    .option(
      '--order <column...>',
      'order within a partition, e.g. aggregate_id sequence (default: time column + primary key)',
    )
    .option('--partition <size>', 'hour, day, or <n>m/<n>h/<n>d (default day)')
    .requiredOption('--to <remote:bucket/prefix>', 'destination, e.g. local:event-store/events')
    .option('--from-time <time>', 'only rows at or after this time')
    .option('--to-time <time>', 'only rows before this time')
    .option('--fetch-size <n>', 'rows per cursor FETCH (default 2000)', intOption('--fetch-size'))
    .option('--run <id>', 'run id', runIdOption)
    .action(
      action(async (opts: PgToS3Flags & { run?: string }, cmd: Command) =>
        withContext(cmd, async (ctx) => {
          const spec = await pgS3SpecFromFlags(opts);
          const runId = opts.run ?? newRunId('pg-to-s3');
          return planThenWork(
            cmd,
            ctx,
            runId,
            () => planRun(ctx, { kind: 'pg-to-s3', runId, spec, retry: retryPolicyFrom(cmd) }),
            (r) =>
              process.stdout.write(
                `run ${runId}: ${r.itemsEnqueued} partition item(s) enqueued; manifest s3://${spec.to.bucket}/${manifestKey(spec.to.prefix, runId)}\n`,
              ),
          );
        }),
      ),
    );
}
