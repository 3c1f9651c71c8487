/**
 * The uploads job's commands, registered by `registerUploadsCommands(program)`:
 *   convoy index build | index inspect        (./index-commands.ts)
 *   convoy local seed uploads                 generate a data set on the local stack
 *   convoy distribute                         per-instance customer files (./distribute.ts)
 *   convoy uploads show                       one upload, everything about it (./show.ts)
 * (`convoy plan uploads` is registered by the kind's plugin, ./plugin.ts, from ./plan-command.ts.)
 */
import path from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Command } from 'commander';
import { action } from '../../../coordinator/cli/errors.js';
import { intOption, runIdOption, withContext } from '../../../coordinator/cli/globals.js';
import { seedUploads } from './seed/seed.js';
import { makeS3Client } from '../../../shared/s3-clients.js';
import { InputError } from '../../../shared/errors.js';
import { balance, countUploadsPerCustomer, writeInstanceFiles } from './distribute.js';
import { registerIndexCommands } from './index-commands.js';
import { formatUploadView, showUpload } from './show.js';
import { uploadsRuntime } from './runtime.js';

function rate(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0 || n > 1) throw new Error(`${name} must be a number between 0 and 1, got "${v}"`);
    return n;
  };
}

export function registerUploadsCommands(program: Command): void {
  registerIndexCommands(program);
  const local = program.commands.find((c) => c.name() === 'local') ?? program.command('local');
  const seed =
    local.commands.find((c) => c.name() === 'seed') ??
    local.command('seed').description('generate data sets on the local stack');
  seed
    .command('uploads')
    .description('write customers, spaces and uploads (real CAR shards, table rows, legacy claims) to the local stack')
    .requiredOption('--customers <n>', 'customers', intOption('--customers'))
    .requiredOption('--spaces <n>', 'spaces (spread over customers, skewed)', intOption('--spaces'))
    .requiredOption('--uploads <n>', 'uploads (spread over spaces, skewed)', intOption('--uploads'))
    .option('--seed <s>', 'seed: the same seed gives the same data set', 'convoy')
    .option(
      '--broken-rate <r>',
      'share of broken uploads (missing shard, truncated CAR, bad block)',
      rate('--broken-rate'),
      0.02,
    )
    .option(
      '--indexed-rate <r>',
      'share of uploads without shards but with an existing index',
      rate('--indexed-rate'),
      0.02,
    )
    .option('--large <n>', 'multi-shard uploads of --large-size bytes', intOption('--large'), 0)
    .option('--large-size <mib>', 'size of large uploads in MiB', intOption('--large-size'), 60)
    .option('--shard-size <mib>', 'shard size of large uploads in MiB', intOption('--shard-size'), 32)
    .action(
      action(
        async (
          opts: {
            customers: number;
            spaces: number;
            uploads: number;
            seed: string;
            brokenRate: number;
            indexedRate: number;
            large: number;
            largeSize: number;
            shardSize: number;
          },
          cmd: Command,
        ) =>
          withContext(cmd, async (ctx) => {
            if (opts.customers < 1 || opts.spaces < opts.customers || opts.uploads < 1) {
              throw new InputError(
                'need --customers >= 1, --spaces >= --customers (every customer has a space) and --uploads >= 1',
              );
            }
            const rt = await uploadsRuntime(ctx);
            const endpoint = rt.config.source.dynamodb?.endpoint ?? ctx.config.state.endpoints.dynamodb;
            const rawDdb = new DynamoDBClient({
              region: ctx.config.state.region,
              endpoint,
              credentials: ctx.config.state.credentials && { ...ctx.config.state.credentials },
            });
            const s3 = makeS3Client(rt.carpark.remote);
            try {
              const started = Date.now();
              const summary = await seedUploads(
                {
                  ddb: rt.tables.ddb,
                  rawDdb,
                  s3,
                  bucket: rt.carpark.bucket,
                  tables: rt.tables.names,
                  agentDid: rt.agent.agent.did(),
                  agent: rt.agent,
                  publicUrl: rt.carpark.publicUrl,
                },
                {
                  customers: opts.customers,
                  spaces: opts.spaces,
                  uploads: opts.uploads,
                  seed: opts.seed,
                  brokenRate: opts.brokenRate,
                  noShardsRate: opts.indexedRate,
                  largeUploads: opts.large,
                  largeBytes: opts.largeSize * 1024 * 1024,
                  shardSize: opts.shardSize * 1024 * 1024,
                },
              );
              const broken = summary.uploads.filter((u) => u.broken).length;
              const noShards = summary.uploads.filter((u) => u.noShards).length;
              process.stdout.write(
                `seeded ${summary.customers.length} customers, ${summary.spaces.length} spaces, ${summary.uploads.length} uploads ` +
                  `(${(summary.bytes / 2 ** 20).toFixed(1)} MiB of shards; ${broken} broken, ${noShards} without shards) in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
              );
            } finally {
              rawDdb.destroy();
              s3.destroy();
            }
          }),
      ),
    );

  program
    .command('distribute')
    .description(
      'count uploads per customer (parallel, resumable) and write per-instance customer files balanced by upload count',
    )
    .requiredOption(
      '--instances <n>',
      'number of instances (files instance-1.json .. instance-N.json)',
      intOption('--instances'),
    )
    .option(
      '--min-uploads <k>',
      'leave out customers with fewer than K uploads (listed in distribution.json)',
      intOption('--min-uploads'),
      0,
    )
    .option(
      '--out <dir>',
      'output directory; holds counts.jsonl, so re-running resumes the count (default <state-dir>/distribution)',
    )
    .option('--segments <n>', 'parallel scan segments of the consumer table', intOption('--segments'), 4)
    .option('--concurrency <n>', 'count queries in flight', intOption('--concurrency'), 16)
    .action(
      action(
        async (
          opts: { instances: number; minUploads: number; out?: string; segments: number; concurrency: number },
          cmd: Command,
        ) =>
          withContext(cmd, async (ctx) => {
            if (opts.instances < 1) throw new InputError(`--instances must be >= 1, got ${opts.instances}`);
            const rt = await uploadsRuntime(ctx);
            const dir = path.resolve(opts.out ?? path.join(ctx.config.stateDir, 'distribution'));
            const started = Date.now();
            const counted = await countUploadsPerCustomer(rt.tables, {
              dir,
              segments: opts.segments,
              concurrency: opts.concurrency,
            });
            const kept = new Map([...counted.perCustomer].filter(([, n]) => n >= opts.minUploads));
            const skipped = [...counted.perCustomer].filter(([, n]) => n < opts.minUploads);
            const files = balance(kept, opts.instances);
            const written = writeInstanceFiles(dir, files, skipped);
            const total = files.reduce((a, f) => a + f.uploads, 0);
            process.stdout.write(
              `counted ${counted.spaces} spaces of ${counted.perCustomer.size} customers (${counted.resumed} spaces from an earlier count) in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
            );
            for (const [i, f] of files.entries())
              process.stdout.write(
                `  ${written[i]}  ${String(f.customers.length).padStart(6)} customers  ${String(f.uploads).padStart(9)} uploads\n`,
              );
            if (skipped.length)
              process.stdout.write(
                `  left out ${skipped.length} customer(s) with fewer than ${opts.minUploads} uploads (see distribution.json)\n`,
              );
            process.stdout.write(
              `total ${total} uploads; start each instance with: convoy worker --customers-file ${path.join(dir, 'instance-<i>.json')}\n`,
            );
          }),
      ),
    );

  const uploads =
    program.commands.find((c) => c.name() === 'uploads') ??
    program.command('uploads').description('the uploads job: look at one upload');
  uploads
    .command('show')
    .description(
      "print an upload's rows, shard sizes and carpark keys, the claims the indexer holds, the space's gateway step and the upload's items with their history",
    )
    .requiredOption('--space <did>', 'the space')
    .requiredOption('--cid <root>', "the upload's root CID")
    .option('--run <id>', 'only this run (default: the 10 newest uploads runs)', runIdOption)
    .option('--json', 'print JSON')
    .action(
      action(async (opts: { space: string; cid: string; run?: string; json?: boolean }, cmd: Command) =>
        withContext(cmd, async (ctx) => {
          const rt = await uploadsRuntime(ctx);
          const view = await showUpload(ctx, rt, { space: opts.space, cid: opts.cid, run: opts.run });
          process.stdout.write(
            opts.json
              ? JSON.stringify(view, (_k, v) => (typeof v === 'bigint' ? String(v) : v), 2) + '\n'
              : formatUploadView(view),
          );
        }),
      ),
    );
}
