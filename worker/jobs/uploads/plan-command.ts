/**
 * `convoy plan uploads`: options -> spec (modes and targets checked, pure), then a planned run.
 */
import type { Command } from 'commander';
import { planRun, newRunId } from '../../../coordinator/plan.js';
import { action } from '../../../coordinator/cli/errors.js';
import { planThenWork } from '../../../coordinator/cli/work-here.js';
import {
  positiveIntOption,
  positiveNumberOption,
  rateControlOption,
  retryPolicyFrom,
  withContext,
  runIdOption,
  type RateControl,
} from '../../../coordinator/cli/globals.js';
import { InputError } from '../../../shared/errors.js';
import type { RetryPolicyInput } from '../../../shared/retry-policy.js';
import type { EngineContext } from '../../job-kind.js';
import { KIND } from './expand.js';
import { readCustomersFile } from './plan.js';
import { DEFAULT_RATES } from './report.js';
import { MODES, uploadsSpecSchema, type Mode, type UploadsSpec } from './spec.js';

export interface PlanUploadsOptions {
  run?: string;
  customersFile?: string;
  customer?: string[];
  space?: string;
  cid?: string;
  limit?: number;
  segments?: number;
  pageSize?: number;
  verifyOnly?: boolean;
  testIndex?: boolean;
  testLocationClaims?: boolean;
  dryRun?: boolean;
  repair?: boolean;
  /** dry-run estimate: worker processes, uploads/min and index MiB/s per worker */
  workers?: number;
  rate?: number;
  indexRate?: number;
  /** adaptive (default) | fixed */
  rateControl?: RateControl;
}

/** The flag each spec field comes from, so a value the schema refuses is reported by its flag. */
const FLAG_OF: Record<string, string> = {
  limit: '--limit',
  pageSize: '--page-size',
  'target.segments': '--segments',
  'target.customers': '--customer',
  'target.space': '--space',
  'target.root': '--cid',
  'estimate.workers': '--workers',
  'estimate.uploadsPerMinPerWorker': '--rate',
  'estimate.indexMibPerSecPerWorker': '--index-rate',
};

/** CLI options -> spec (pure; bad combinations are InputErrors naming the options). */
export function specFromOptions(o: PlanUploadsOptions): UploadsSpec {
  const modes = (
    [
      ['verify-only', o.verifyOnly],
      ['test-index', o.testIndex],
      ['test-location-claims', o.testLocationClaims],
      ['dry-run', o.dryRun],
      ['repair', o.repair],
    ] as const
  ).filter(([, on]) => on);
  if (modes.length > 1) throw new InputError(`choose one mode; got ${modes.map(([m]) => `--${m}`).join(' and ')}`);
  const mode: Mode = modes[0]?.[0] ?? 'migrate';
  const targets = [
    o.customersFile && '--customers-file',
    o.customer?.length && '--customer',
    o.space && '--space',
  ].filter(Boolean);
  if (targets.length > 1) throw new InputError(`choose one target; got ${targets.join(' and ')}`);
  if (o.cid && !o.space)
    throw new InputError('--cid needs --space (an upload is identified by its space and root CID)');
  let target: UploadsSpec['target'];
  if (o.space && o.cid) target = { type: 'upload', space: o.space, root: o.cid };
  else if (o.space) target = { type: 'space', space: o.space };
  else if (o.customersFile) target = { type: 'customers', customers: readCustomersFile(o.customersFile) };
  else if (o.customer?.length) target = { type: 'customers', customers: o.customer };
  else target = { type: 'all', segments: o.segments ?? 8 };
  // given at all (0 included, which the parsers refuse): a value is never dropped silently
  const shaped = [o.workers, o.rate, o.indexRate].some((v) => v !== undefined);
  if (shaped && mode !== 'dry-run')
    throw new InputError('--workers, --rate and --index-rate shape the --dry-run estimate; add --dry-run or drop them');
  const estimate = shaped
    ? { workers: o.workers, uploadsPerMinPerWorker: o.rate, indexMibPerSecPerWorker: o.indexRate }
    : undefined;
  const parsed = uploadsSpecSchema.safeParse({
    target,
    limit: o.limit,
    mode,
    pageSize: o.pageSize,
    estimate,
    rateControl: o.rateControl,
  });
  if (!parsed.success)
    throw new InputError(
      parsed.error.issues
        .map((i) => {
          const path = i.path.join('.');
          return `${FLAG_OF[path] ?? path}: ${i.message}`;
        })
        .join('; '),
    );
  return parsed.data;
}

export async function planUploadsRun(ctx: EngineContext, o: PlanUploadsOptions, retry?: RetryPolicyInput) {
  const spec = specFromOptions(o);
  return planRun(ctx, { kind: KIND, runId: o.run ?? newRunId(KIND), spec, retry });
}

export function registerPlanCommand(plan: Command): void {
  plan
    .command('uploads')
    .description(
      're-index uploads: build sharded DAG indexes, register them, re-publish location claims, authorize the gateway',
    )
    .option(
      '--run <id>',
      'run id (default uploads-<time>-<random>); planning an existing run again resumes it',
      runIdOption,
    )
    .option('--customers-file <file>', 'customers to migrate (JSON array of DIDs, or a `convoy distribute` file)')
    .option('--customer <did...>', 'customer DID(s)')
    .option('--space <did>', 'one space')
    .option('--cid <root>', 'with --space: one upload')
    .option('--limit <n>', 'at most N uploads (the coordinator lists them)', positiveIntOption('--limit'))
    .option(
      '--segments <n>',
      'parallel scan segments of the consumer table (no target: all customers)',
      positiveIntOption('--segments'),
    )
    .option('--page-size <n>', 'uploads per space page item', positiveIntOption('--page-size'))
    .option('--verify-only', 'write nothing; report per upload what is missing (convoy verify --run)')
    .option('--test-index', 'only build, store and register indexes')
    .option('--test-location-claims', 'only re-publish location claims')
    .option(
      '--dry-run',
      'read nothing from peers, write nothing: uploads, shards, bytes and a time estimate per customer (convoy verify --run)',
    )
    .option('--repair', 're-publish location claims, rebuilding those the indexer lost from the tables')
    .option(
      '--workers <n>',
      'with --dry-run: worker processes the time estimate assumes (default 1)',
      positiveIntOption('--workers'),
    )
    .option(
      '--rate <n>',
      `with --dry-run: uploads/min per worker process (default ${DEFAULT_RATES.uploadsPerMinPerWorker}, measured by npm run bench:uploads)`,
      positiveNumberOption('--rate'),
    )
    .option(
      '--index-rate <n>',
      `with --dry-run: index MiB/s per worker process (default ${DEFAULT_RATES.indexMibPerSecPerWorker})`,
      positiveNumberOption('--index-rate'),
    )
    .option(
      '--rate-control <mode>',
      'adaptive (default: the fleet backs off per remote service when it answers 429/503, then ramps up) or fixed',
      rateControlOption('only retry with backoff'),
    )
    .addHelpText('after', `\nmodes: ${MODES.join(', ')}`)
    .action(
      action(async (opts: PlanUploadsOptions, cmd: Command) =>
        withContext(cmd, async (ctx) => {
          const runId = opts.run ?? newRunId(KIND);
          return planThenWork(
            cmd,
            ctx,
            runId,
            () => planUploadsRun(ctx, { ...opts, run: runId }, retryPolicyFrom(cmd)),
            (r) =>
              process.stdout.write(
                `${runId}: ${r.planned ? `planned ${r.itemsWritten} item(s)` : 'already planned'}\n`,
              ),
          );
        }),
      ),
    );
}
