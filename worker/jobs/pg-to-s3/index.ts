/**
 * pg-to-s3: export an event table to S3 as NDJSON+gzip objects partitioned by time, with a
 * manifest per run (runbook 003's event store); `convoy replay` streams events back in order;
 * `convoy verify` compares counts and a per-partition hash of PostgreSQL against S3.
 */
import type { Command } from 'commander';
import { newRunId, planRun } from '../../../coordinator/plan.js';
import { action } from '../../../coordinator/cli/errors.js';
import { intOption, withContext } from '../../../coordinator/cli/globals.js';
import { addBuiltInKind } from '../index.js';
import type { JobKind } from '../types.js';
import { exportPartition } from './handler.js';
import { manifestKey } from './partitions.js';
import { pgS3SpecFromFlags, planPartitions, preflightPgToS3, type PgToS3Flags } from './plan.js';
import { pgToS3SpecSchema, type PgToS3Spec } from './spec.js';
import { verifyPgToS3 } from './verify.js';

export const pgToS3Kind: JobKind<PgToS3Spec> = {
  kind: 'pg-to-s3',
  specSchema: pgToS3SpecSchema as never,
  preflight: (spec, ctx) => preflightPgToS3(spec, ctx.config),
  plan: planPartitions,
  handle: exportPartition,
  verify: verifyPgToS3,
};

function registerPlanCommand(plan: Command): void {
  plan
    .command('pg-to-s3')
    .description('export an event table to S3: NDJSON+gzip objects per time partition, a manifest per run')
    .requiredOption('--from <url>', 'postgres://user@host:5432/db (password from PGPASSWORD or ~/.pgpass)')
    .option('--table <name>', 'source table')
    .option('--query <sql>', 'source query instead of a table')
    .requiredOption('--time-column <column>', 'timestamp column partitions are cut on')
    .option('--order <column...>', 'order within a partition, e.g. aggregate_id sequence (default: time column + primary key)')
    .option('--partition <size>', 'hour, day, or <n>m/<n>h/<n>d (default day)')
    .requiredOption('--to <remote:bucket/prefix>', 'destination, e.g. local:event-store/events')
    .option('--from-time <time>', 'only rows at or after this time')
    .option('--to-time <time>', 'only rows before this time')
    .option('--fetch-size <n>', 'rows per cursor FETCH (default 2000)', intOption('--fetch-size'))
    .option('--run <id>', 'run id')
    .action(
      action(async (opts: PgToS3Flags & { run?: string }, cmd: Command) =>
        withContext(cmd, async (ctx) => {
          const spec = await pgS3SpecFromFlags(opts);
          const runId = opts.run ?? newRunId('pg-to-s3');
          const r = await planRun(ctx, { kind: 'pg-to-s3', runId, spec });
          process.stdout.write(`run ${runId}: ${r.itemsEnqueued} partition item(s) enqueued; manifest s3://${spec.to.bucket}/${manifestKey(spec.to.prefix, runId)}\n`);
        }),
      ),
    );
}

addBuiltInKind(pgToS3Kind, registerPlanCommand);
