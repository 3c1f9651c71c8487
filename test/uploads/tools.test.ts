/**
 * The operator tools around the uploads job, on the local stack and real peers: `convoy
 * distribute` (counts, balanced files, resume), `--dry-run` and `--verify-only` reports, and
 * `convoy uploads show` (the built CLI, as operators run it).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runStatus } from '../../coordinator/status.js';
import type { UploadPeers } from '../../worker/jobs/uploads/local-peers/start-peers.js';
import { getRun } from '../../state/runs.js';
import { uploadsKind } from '../../worker/jobs/uploads/job.js';
import { planUploadsRun } from '../../worker/jobs/uploads/plan-command.js';
import type { UploadsSpec } from '../../worker/jobs/uploads/spec.js';
import { Worker } from '../../worker/worker.js';
import { silentLogger } from '../../shared/log.js';
import { waitUntil, type TestStack } from '../helpers/stack.js';
import { useUploadsStack, uploadsEnv, writeStateDir, type UploadsEnv } from './helpers.js';

const CLI = path.resolve('dist/coordinator/cli/main.js');
let t: TestStack;
let peers: UploadPeers;
useUploadsStack((s) => ({ t, peers } = s));
let env: UploadsEnv;
let stateDir: string;
const dir = mkdtempSync(path.join(tmpdir(), 'convoy-uploads-tools-'));

beforeAll(async () => {
  env = await uploadsEnv(t.stack, peers, {
    customers: 3,
    spaces: 6,
    uploads: 40,
    seed: 'tools',
    brokenRate: 0.1,
    noShardsRate: 0,
    maxSmallBytes: 80 * 1024,
  });
  stateDir = writeStateDir(t.stack, env, path.join(dir, 'state'));
});
afterAll(async () => {
  env?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The CLI as a child process; asynchronous, because this process serves the stack it talks to. */
function convoy(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, '--state-dir', stateDir, ...args], {
      env: { ...process.env, CONVOY_LOG_LEVEL: 'error' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (status) => resolve({ status, stdout, stderr }));
  });
}

async function runToEnd(runId: string, opts: Parameters<typeof planUploadsRun>[1]) {
  await planUploadsRun(env.ctx, { ...opts, run: runId }, { backoffBaseMs: 50 });
  const worker = new Worker(env.ctx, {
    concurrency: 16,
    waitSeconds: 0,
    threads: 1,
    counterFlushMs: 200,
    heartbeatMs: 500,
    leaseMs: 20_000,
    runs: [runId],
  });
  const done = worker.start();
  await waitUntil(async () => (await runStatus(env.ctx, runId)).run.state === 'done', {
    timeoutMs: 120_000,
    what: `run ${runId} done`,
  });
  await worker.stop();
  await done;
  const run = (await getRun(env.ctx.meta, runId))!;
  return uploadsKind.verify!(run, uploadsKind.specSchema.parse(run.spec) as UploadsSpec, env.ctx, {
    reportPath: path.join(dir, `${runId}.jsonl`),
    log: silentLogger,
  });
}

describe('uploads operator tools', () => {
  it('distribute: counts every customer, balances instance files by uploads, resumes a cut-short count', async () => {
    const out = path.join(dir, 'dist');
    const first = await convoy(['distribute', '--instances', '2', '--out', out]);
    expect(first.status, first.stderr).toBe(0);
    const files = [1, 2].map(
      (i) =>
        JSON.parse(readFileSync(path.join(out, `instance-${i}.json`), 'utf8')) as {
          customers: string[];
          uploads: number;
        },
    );
    expect(files.flatMap((f) => f.customers).sort()).toEqual([...env.seeded.customers].sort());
    expect(files.reduce((a, f) => a + f.uploads, 0)).toBe(40);
    const perCustomer = (c: string) => env.seeded.uploads.filter((u) => u.customer === c).length;
    for (const f of files) expect(f.uploads).toBe(f.customers.reduce((a, c) => a + perCustomer(c), 0));
    // cut the count short: the re-run counts only the missing spaces, and writes the same files
    const counts = readFileSync(path.join(out, 'counts.jsonl'), 'utf8').trim().split('\n');
    expect(counts).toHaveLength(6);
    writeFileSync(path.join(out, 'counts.jsonl'), counts.slice(0, 4).join('\n') + '\n{"space":"did:key:cut-sh');
    const second = await convoy(['distribute', '--instances', '2', '--out', out]);
    expect(second.status, second.stderr).toBe(0);
    expect(second.stdout).toMatch(/\(4 spaces from an earlier count\)/);
    expect([1, 2].map((i) => JSON.parse(readFileSync(path.join(out, `instance-${i}.json`), 'utf8')))).toEqual(files);
    // an instance file plans with --customers-file
    expect(readFileSync(path.join(out, 'instance-1.json'), 'utf8')).toMatch(/"customers"/);
    expect(existsSync(path.join(out, 'distribution.json'))).toBe(true);
  });

  it('dry-run: uploads, shards and bytes per customer, reading nothing from the peers', async () => {
    const claimsBefore = peers.indexer.received.length;
    const summary = await runToEnd('tools-dry', { customer: env.seeded.customers, dryRun: true, workers: 2 });
    expect(summary.counts.uploads).toBe(40);
    expect(summary.counts.shards).toBe(env.seeded.uploads.reduce((a, u) => a + u.shards.length, 0));
    expect(summary.counts.bytes).toBe(env.seeded.bytes); // sizes from the allocation and store tables
    const text = summary.lines.join('\n');
    for (const c of env.seeded.customers) expect(text).toContain(c);
    expect(text).toMatch(/estimate with 2 worker process/);
    expect(peers.indexer.received.length).toBe(claimsBefore);
  });

  it("migrate, then verify-only reports what is missing per upload; uploads show tells one upload's story", async () => {
    const broken = env.seeded.uploads.filter((u) => u.broken);
    expect(broken.length).toBeGreaterThan(0);
    const migrated = await runToEnd('tools-migrate', { customer: env.seeded.customers });
    expect(migrated.counts).toMatchObject({ uploads: 40, ok: 40 - broken.length, failed: broken.length });
    const check = await runToEnd('tools-check', { customer: env.seeded.customers, verifyOnly: true });
    expect(check.counts).toMatchObject({
      uploads: 40,
      ok: 40 - broken.length,
      missing_index: broken.length,
      missing_gateway: 0,
    });
    const report = readFileSync(check.reportPath, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { item: string; missingIndex: boolean });
    expect(report.map((l) => l.item).sort()).toEqual(broken.map((u) => `upload:${u.space}:${u.root}`).sort());
    expect(report.every((l) => l.missingIndex)).toBe(true);

    const bad = broken[0]!;
    const shownOut = await convoy(['uploads', 'show', '--space', bad.space, '--cid', bad.root, '--json']);
    expect(shownOut.status, shownOut.stderr).toBe(0);
    const shown = JSON.parse(shownOut.stdout);
    expect(shown.customer).toBe(bad.customer);
    expect(shown.indexClaim).toBeUndefined();
    expect(shown.shards.map((s: { cid: string }) => s.cid)).toEqual([...bad.shards].sort());
    const migrateItem = shown.items.find((i: { runId: string }) => i.runId === 'tools-migrate');
    expect(migrateItem.status).toBe('failed');
    expect(migrateItem.lastError.errorClass).toBe(bad.broken === 'missing-shard' ? 'SHARD_NOT_FOUND' : 'SHARD_CORRUPT');
    if (bad.broken === 'missing-shard') expect(shown.shards.some((s: { key?: string }) => !s.key)).toBe(true);

    const good = env.seeded.uploads.find((u) => !u.broken)!;
    const text = await convoy(['uploads', 'show', '--space', good.space, '--cid', good.root, '--run', 'tools-migrate']);
    expect(text.status, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/index\s+claimed: bag/);
    expect(text.stdout).toMatch(/\(with the space\)/);
    expect(text.stdout).toMatch(/gateway\s+done/);
    expect(text.stdout).toMatch(/item\s+run tools-migrate: done/);
    expect(text.stdout).not.toMatch(/Mg[A-Za-z0-9+/]{40}/); // no private key
  });

  it('bad input exits 2 naming it', async () => {
    const show = await convoy(['uploads', 'show', '--space', 'not-a-did', '--cid', 'x']);
    expect(show.status).toBe(2);
    expect(show.stderr).toMatch(/--space "not-a-did" is not a DID/);
    const dist = await convoy(['distribute', '--instances', '0']);
    expect(dist.status).toBe(2);
    expect(dist.stderr).toMatch(/--instances/);
    const plan = await convoy(['plan', 'uploads', '--workers', '3']);
    expect(plan.status).toBe(2);
    expect(plan.stderr).toMatch(/--dry-run/);
  });
});
