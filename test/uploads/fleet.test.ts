/**
 * The uploads job with a fleet: two `convoy worker` PROCESSES (the built CLI) on one plan of
 * >= 500 uploads over >= 20 spaces and >= 5 customers, one of them killed with SIGKILL while it
 * holds items. Nothing may be lost (every good upload done and verified, every broken one failed
 * with its class) and nothing registered twice where the peer would count it twice (one index
 * registration per upload, one location claim with the space per shard, one gateway delegation
 * per space).
 *
 * Needs the build (`npx tsc -p .`): the workers are the compiled CLI. UPLOADS_FLEET_UPLOADS
 * makes it bigger (`npm run test:uploads-e2e` runs 2,000).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { base58btc } from 'multiformats/bases/base58';
import { CID } from 'multiformats/cid';
import { afterAll, describe, expect, it } from 'vitest';
import { runStatus } from '../../coordinator/status.js';
import type { UploadPeers } from '../../worker/jobs/uploads/local-peers/start-peers.js';
import { itemsOfRun } from '../../state/item-bulk.js';
import type { ItemRow } from '../../state/item-row.js';
import { planUploadsRun } from '../../worker/jobs/uploads/plan-command.js';
import { waitUntil, type TestStack } from '../helpers/stack.js';
import { useUploadsStack, uploadsEnv, writeStateDir } from './helpers.js';

const CLI = path.resolve('dist/coordinator/cli/main.js');
const UPLOADS = Number(process.env.UPLOADS_FLEET_UPLOADS ?? 500);

let t: TestStack;
let peers: UploadPeers;
useUploadsStack((s) => ({ t, peers } = s));
const dir = mkdtempSync(path.join(tmpdir(), 'convoy-uploads-fleet-'));
const children: ChildProcess[] = [];

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function startWorker(stateDir: string, id: string): { child: ChildProcess; exited: Promise<number | string> } {
  const log = openSync(path.join(dir, `${id}.log`), 'a');
  const child = spawn(
    process.execPath,
    [
      CLI,
      '--state-dir',
      stateDir,
      'worker',
      // one process per worker id: the test kills this pid -9 (--processes 1: no supervisor)
      '--processes',
      '1',
      '--worker-id',
      id,
      '--concurrency',
      '48',
      '--lease-ms',
      '6000',
      '--wait-seconds',
      '1',
      '--threads',
      '1',
    ],
    { stdio: ['ignore', log, log], env: { ...process.env, CONVOY_LOG_LEVEL: 'warn' } },
  );
  closeSync(log);
  children.push(child);
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')),
  );
  return { child, exited };
}

describe('uploads job with two worker processes', () => {
  it(`migrates ${UPLOADS} uploads; kill -9 of a worker loses nothing and registers nothing twice`, async () => {
    const env = await uploadsEnv(t.stack, peers, {
      customers: 5,
      spaces: 20,
      uploads: UPLOADS,
      seed: `fleet-${UPLOADS}`,
      brokenRate: 0.02,
      noShardsRate: 0.02,
      maxSmallBytes: 64 * 1024,
    });
    const seeded = env.seeded;
    expect(new Set(seeded.uploads.map((u) => u.space)).size).toBeGreaterThanOrEqual(20);
    expect(seeded.customers.length).toBeGreaterThanOrEqual(5);
    const stateDir = writeStateDir(t.stack, env, path.join(dir, 'state'));
    const runId = 'fleet-1';
    await planUploadsRun(env.ctx, { customer: seeded.customers, run: runId }, { backoffBaseMs: 200 });

    const a = startWorker(stateDir, 'worker-a');
    const b = startWorker(stateDir, 'worker-b');
    const uploadsDone = async () => {
      let n = 0;
      for await (const page of itemsOfRun(env.ctx.items, runId))
        n += page.filter((i) => i.itemId.startsWith('upload:') && i.status === 'done').length;
      return n;
    };
    // kill worker A while the run is in full swing and A holds items
    await waitUntil(async () => (await uploadsDone()) >= Math.floor(UPLOADS / 4), {
      timeoutMs: 180_000,
      intervalMs: 250,
      what: 'a quarter of the uploads done',
    });
    a.child.kill('SIGKILL');
    expect(await a.exited).toBe('SIGKILL');

    const status = await waitUntil(
      async () => {
        const s = await runStatus(env.ctx, runId);
        return s.run.state === 'done' ? s : undefined;
      },
      { timeoutMs: 300_000, intervalMs: 500, what: `run ${runId} done (worker logs in ${dir})` },
    );
    b.child.kill('SIGTERM');
    expect(await b.exited).toBe(0);

    const items: ItemRow[] = [];
    for await (const page of itemsOfRun(env.ctx.items, runId)) items.push(...page);
    const uploads = new Map(items.filter((i) => i.itemId.startsWith('upload:')).map((i) => [String(i.spec.root), i]));
    expect(uploads.size).toBe(UPLOADS);
    expect(status.counts.pending + status.counts.leased + status.counts.retrying).toBe(0);

    // nothing lost: every good upload done, every broken one failed with its class
    for (const u of seeded.uploads) {
      const item = uploads.get(u.root)!;
      if (u.broken === 'missing-shard')
        expect([item.status, item.lastError?.errorClass]).toEqual(['failed', 'SHARD_NOT_FOUND']);
      else if (u.broken) expect([item.status, item.lastError?.errorClass]).toEqual(['failed', 'SHARD_CORRUPT']);
      else expect(item.status, `${u.root}: ${JSON.stringify(item.lastError)}`).toBe('done');
      expect((item.history ?? []).filter((h) => h.event === 'completed').length).toBeLessThanOrEqual(1);
    }
    // the kill hit items in flight: some were claimed by A and finished by B
    const takenOver = [...uploads.values()].filter(
      (i) => i.history?.some((h) => h.event === 'claimed' && h.worker === 'worker-a') && i.worker === 'worker-b',
    );
    expect(takenOver.length).toBeGreaterThan(0);

    // nothing registered twice where the peer would count it twice
    for (const u of seeded.uploads.filter((x) => !x.broken)) {
      const rootB58 = base58btc.encode(CID.parse(u.root).multihash.bytes);
      expect(peers.indexer.indexRegistrations(rootB58), u.root).toBe(1);
      for (const s of u.shards) {
        const b58 = base58btc.encode(CID.parse(s).multihash.bytes);
        expect(
          peers.indexer.received.filter(
            (r) => r.type === 'assert/location' && r.content === b58 && r.space === u.space,
          ),
          s,
        ).toHaveLength(1);
      }
    }
    for (const s of seeded.spaces) {
      const good = seeded.uploads.some((u) => u.space === s.space && !u.broken);
      expect(peers.gateway.delegations.get(s.space)?.size ?? 0, s.space).toBe(good ? 1 : 0);
    }
    const log = readFileSync(path.join(dir, 'worker-b.log'), 'utf8');
    expect(log).not.toMatch(/"level":50.*"errorClass":"(UNKNOWN|VERIFICATION_FAILED)"/);
    env.close();
  }, 600_000);
});
