/**
 * Where a `convoy worker` process indexes a shard (shard-source.ts INDEX_HERE_MAX_BYTES): small
 * shards on its event loop, without starting a piscina thread; shards over 8 MiB in the threads.
 * The real CLI in a child process, as an operator starts it, with the module probe
 * (test/processes/module-probe.mjs) saying at its exit whether it loaded piscina; every upload
 * done and its index registered once at the indexing service either way.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { base58btc } from 'multiformats/bases/base58';
import { CID } from 'multiformats/cid';
import { afterAll, describe, expect, it } from 'vitest';
import { runStatus } from '../../coordinator/status.js';
import type { UploadPeers } from '../../worker/jobs/uploads/local-peers/start-peers.js';
import type { SeedOptions } from '../../worker/jobs/uploads/seed/seed.js';
import { planUploadsRun } from '../../worker/jobs/uploads/plan-command.js';
import { runCli } from '../helpers/cli.js';
import type { TestStack } from '../helpers/stack.js';
import { useUploadsStack, uploadsEnv, writeStateDir } from './helpers.js';

const MiB = 1024 * 1024;
const PROBE = new URL('../processes/module-probe.mjs', import.meta.url).href;

let t: TestStack;
let peers: UploadPeers;
useUploadsStack((s) => ({ t, peers } = s));
const dir = mkdtempSync(path.join(tmpdir(), 'convoy-index-where-'));

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
});

/**
 * Seed `seed`, plan it, and let one `convoy worker` process work it until idle: the run's status,
 * the seeded uploads and the piscina files the worker loaded.
 */
async function migrate(name: string, seed: Omit<SeedOptions, 'customers' | 'spaces' | 'seed'>) {
  const env = await uploadsEnv(t.stack, peers, {
    customers: 1,
    spaces: 2,
    seed: `index-where-${name}`,
    brokenRate: 0,
    noShardsRate: 0,
    ...seed,
  });
  const stateDir = writeStateDir(t.stack, env, path.join(dir, name));
  await planUploadsRun(env.ctx, { customer: env.seeded.customers, run: name }, { backoffBaseMs: 50 });
  const probeDir = mkdtempSync(path.join(dir, `${name}-modules-`));
  const worker = await runCli(
    [
      '--state-dir',
      stateDir,
      'worker',
      '--processes',
      '1',
      '--threads',
      '2',
      '--exit-when-idle',
      '1500',
      '--wait-seconds',
      '0',
    ],
    {
      env: {
        NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import "${PROBE}"`,
        CONVOY_TEST_MODULE_PROBE_DIR: probeDir,
      },
      timeoutMs: 120_000,
    },
  );
  expect(worker.code, worker.stderr).toBe(0);
  const [loaded, ...more] = readdirSync(probeDir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(path.join(probeDir, f), 'utf8')) as { piscina: number });
  expect(more).toHaveLength(0);
  const status = await runStatus(env.ctx, name);
  env.close();
  return { status, uploads: env.seeded.uploads, piscinaFiles: loaded!.piscina };
}

/** Index registrations the indexing service received for an upload's root. */
const registrations = (root: string) =>
  peers.indexer.indexRegistrations(base58btc.encode(CID.parse(root).multihash.bytes));

describe('where a worker indexes shards', () => {
  it('shards under 8 MiB on the event loop: no piscina thread started, every upload migrated', async () => {
    const { status, uploads, piscinaFiles } = await migrate('small', { uploads: 6, maxSmallBytes: 256 * 1024 });
    expect(status.run.state).toBe('done');
    expect(status.counts.failed).toBe(0);
    expect(uploads).toHaveLength(6);
    for (const u of uploads) expect(registrations(u.root), u.root).toBe(1);
    expect(piscinaFiles).toBe(0);
  }, 180_000);

  it('shards over 8 MiB in the piscina threads, beside small ones on the event loop', async () => {
    const { status, uploads, piscinaFiles } = await migrate('large', {
      uploads: 3,
      maxSmallBytes: 64 * 1024,
      largeUploads: 1,
      largeBytes: 20 * MiB,
      shardSize: 9 * MiB,
    });
    expect(status.run.state).toBe('done');
    expect(status.counts.failed).toBe(0);
    // the large upload: two 9 MiB shards and the rest
    expect(uploads.map((u) => u.shards.length).sort()).toEqual([1, 1, 3]);
    for (const u of uploads) expect(registrations(u.root), u.root).toBe(1);
    expect(piscinaFiles).toBeGreaterThan(0);
  }, 180_000);
});
