/**
 * `convoy replay --run <id> [--from T] [--to T] [--out file]`: stream a pg-to-s3 run's events
 * back in order (NDJSON to stdout or a file).
 */
import { createWriteStream } from 'node:fs';
import type { Command } from 'commander';
import { action } from '../../../coordinator/cli/errors.js';
import { runIdOption, withContext } from '../../../coordinator/cli/globals.js';
import { InputError } from '../../../shared/errors.js';
import { getRun } from '../../../state/runs.js';
import { s3For } from './handler.js';
import { parseWindow, readManifest, replay } from './replay.js';
import { pgToS3SpecSchema } from './spec.js';

export function registerReplayCommand(program: Command): Command {
  return program
    .command('replay')
    .description('stream the events of a pg-to-s3 run back in order, for a time window (NDJSON)')
    .requiredOption('--run <id>', 'the pg-to-s3 run whose export to read', runIdOption)
    .option('--from <time>', 'first event time (inclusive), e.g. 2024-11-01T00:00:00Z')
    .option('--to <time>', 'end of the window (exclusive)')
    .option('--out <file>', 'write to a file instead of stdout')
    .action(
      action(async (opts: { run: string; from?: string; to?: string; out?: string }, cmd: Command) =>
        withContext(cmd, async (ctx) => {
          const window = parseWindow(opts.from, opts.to);
          const run = await getRun(ctx.meta, opts.run);
          if (!run) throw new InputError(`run "${opts.run}" not found`);
          if (run.kind !== 'pg-to-s3')
            throw new InputError(`run ${opts.run} is a ${run.kind} run; replay reads pg-to-s3 runs`);
          const spec = pgToS3SpecSchema.parse(run.spec);
          const s3 = s3For(ctx.config, spec.to.remote);
          const manifest = await readManifest(s3, spec, opts.run);
          const out = opts.out ? createWriteStream(opts.out) : process.stdout;
          const r = await replay(s3, spec, manifest, window, out);
          if (opts.out)
            await new Promise<void>((res, rej) =>
              (out as ReturnType<typeof createWriteStream>).end((e?: Error | null) => (e ? rej(e) : res())),
            );
          process.stderr.write(`replayed ${r.events} event(s) from ${r.partitions} partition(s)\n`);
        }),
      ),
    );
}
