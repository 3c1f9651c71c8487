/**
 * Operator debug tools: `convoy index build --root CID SHARD.car... > index.car` (the same
 * piscina task and index builder the workers use) and `convoy index inspect index.car`.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { action } from '../../../coordinator/cli/errors.js';
import { intOption } from '../../../coordinator/cli/globals.js';
import { InputError } from '../../../shared/errors.js';
import { createThreadPool } from '../../thread-pool.js';
import { buildDagIndex, describeIndex, parseRoot, shardLink } from './dag-index.js';
import { resultToIndex, type ShardIndexResult } from './shard-source.js';
import { CAR_INDEX_TASK } from './car-index-task.js';

export function registerIndexCommands(program: Command): void {
  const index = program.command('index').description('sharded DAG indexes: build one from CAR files, inspect one');
  index
    .command('build')
    .description('build the sharded DAG index of an upload from its CAR shards; writes the index CAR to stdout')
    .requiredOption('--root <cid>', "the upload's root CID")
    .option('--threads <n>', 'threads indexing shards', intOption('--threads'))
    .option('--no-verify', 'trust block CIDs (skip per-block hash verification)')
    .argument('<shards...>', 'CAR shard files')
    .action(
      action(async (shards: string[], opts: { root: string; threads?: number; verify: boolean }) => {
        parseRoot(opts.root);
        for (const file of shards)
          if (!existsSync(file)) throw new InputError(`shard file ${file} does not exist; give paths of CAR files`);
        if (process.stdout.isTTY)
          throw new InputError(
            'the index is binary: redirect stdout to a file (convoy index build --root CID a.car > index.car)',
          );
        const pool = createThreadPool(opts.threads ?? Math.min(4, shards.length));
        try {
          const indexed = await Promise.all(
            shards.map(async (file) =>
              resultToIndex(
                await pool.run<ShardIndexResult>(CAR_INDEX_TASK, {
                  source: { type: 'file', path: file },
                  verifyBlocks: opts.verify,
                  label: file,
                }),
              ),
            ),
          );
          const built = await buildDagIndex(opts.root, indexed);
          await new Promise<void>((resolve, reject) =>
            process.stdout.write(built.bytes, (err) => (err ? reject(err) : resolve())),
          );
          for (const [i, s] of indexed.entries())
            process.stderr.write(
              `shard ${shardLink(s.shardMultihash)}  ${s.size} bytes  ${s.slices.length} blocks  (${shards[i]})\n`,
            );
          process.stderr.write(
            `index ${built.link}  ${built.bytes.length} bytes  ${built.shards} shard(s)  ${built.slices} slices\n`,
          );
        } finally {
          await pool.close();
        }
      }),
    );
  index
    .command('inspect')
    .description("print an index CAR's content root, shards and slice counts")
    .argument('<file>', 'index CAR file')
    .option('--json', 'print JSON')
    .action(
      action(async (file: string, opts: { json?: boolean }) => {
        if (!existsSync(file)) throw new InputError(`index file ${file} does not exist`);
        const d = await describeIndex(new Uint8Array(readFileSync(file)));
        if (opts.json) {
          process.stdout.write(JSON.stringify(d, null, 2) + '\n');
          return;
        }
        process.stdout.write(
          `index    ${d.link} (${d.size} bytes)\ncontent  ${d.content}\nshards   ${d.shards.length}, slices ${d.slices}\n`,
        );
        for (const s of d.shards) process.stdout.write(`  ${s.shard}  ${s.slices} slices  ${s.size ?? '?'} bytes\n`);
      }),
    );
}
