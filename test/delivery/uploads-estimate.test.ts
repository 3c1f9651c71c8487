/**
 * The uploads `--dry-run` estimate says which rate it assumes and where it comes from: with no
 * finished uploads run, the development machine's default (and says so); once a migrate run has
 * finished here, that run's measured rate per worker. The real CLI (plan, worker, verify) on the
 * local stack and real UCAN peers.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UploadPeers } from '../../worker/jobs/uploads/local-peers/start-peers.js';
import { DEFAULT_RATES, estimateMinutes, formatMinutes, measureRunRate } from '../../worker/jobs/uploads/report.js';
import { CLI } from '../helpers/cli.js';
import type { TestStack } from '../helpers/stack.js';
import { useUploadsStack, uploadsEnv, writeStateDir, type UploadsEnv } from '../uploads/helpers.js';

let t: TestStack;
let peers: UploadPeers;
useUploadsStack((s) => ({ t, peers } = s));
let env: UploadsEnv;
let stateDir: string;
const dir = mkdtempSync(path.join(tmpdir(), 'convoy-uploads-estimate-'));

beforeAll(async () => {
  env = await uploadsEnv(t.stack, peers, {
    customers: 2,
    spaces: 2,
    uploads: 24,
    seed: 'estimate',
    brokenRate: 0,
    noShardsRate: 0,
    maxSmallBytes: 16 * 1024,
  });
  stateDir = writeStateDir(t.stack, env, path.join(dir, 'state'));
}, 60_000);
afterAll(async () => {
  env?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The CLI as a child process; asynchronous, because this process serves the stack it talks to. */
function convoy(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, '--state-dir', stateDir, ...args], {
      env: { ...process.env, CONVOY_LOG_LEVEL: 'error' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** plan, then one worker process until the queue is idle (it exits by itself) */
async function planAndWork(runId: string, planArgs: string[]): Promise<void> {
  const plan = await convoy(['plan', 'uploads', '--run', runId, '--customer', ...env.seeded.customers, ...planArgs]);
  expect(plan.code, plan.stderr).toBe(0);
  const worker = await convoy([
    'worker',
    '--run',
    runId,
    '--concurrency',
    '8',
    '--threads',
    '1',
    '--wait-seconds',
    '1',
    '--exit-when-idle',
    '1000',
  ]);
  expect(worker.code, worker.stderr).toBe(0);
}

async function estimate(runId: string): Promise<string> {
  const verify = await convoy(['verify', '--run', runId, '--report', path.join(dir, `${runId}.jsonl`)]);
  expect(verify.code, verify.stderr).toBe(0);
  return verify.stdout;
}

/** the estimate the total row must show for `uploads` at `perMin` uploads/min per worker on 3 workers */
const totalEstimate = (uploads: number, perMin: number) =>
  formatMinutes(
    estimateMinutes(
      { uploads, bytes: 0 },
      { uploadsPerMinPerWorker: perMin, indexMibPerSecPerWorker: DEFAULT_RATES.indexMibPerSecPerWorker },
      3,
    ),
  );

describe('uploads --dry-run estimate', () => {
  it('names its assumption: the default with no history, then the rate measured by a finished migrate run', async () => {
    await planAndWork('est-dry', ['--dry-run', '--workers', '3']);
    const before = await estimate('est-dry');
    expect(before).toContain(
      `assuming ${DEFAULT_RATES.uploadsPerMinPerWorker.toLocaleString('en-US')} uploads/min per worker (default from npm run bench:uploads`,
    );

    await planAndWork('est-migrate', []);
    const measured = await measureRunRate(env.ctx, 'est-migrate');
    expect(measured?.uploads).toBe(24);
    // the same dry run's report again: the estimate is made when it is shown, from the history then
    const after = await estimate('est-dry');
    const day = new Date().toISOString().slice(0, 10);
    expect(after).toContain(
      `assuming ${measured!.uploadsPerMinPerWorker.toLocaleString('en-US')} uploads/min per worker (measured by run est-migrate on ${day}: 24 uploads)`,
    );
    const total = after.split('\n').find((l) => /^\s+total\s/.test(l));
    expect(total?.trim().endsWith(totalEstimate(24, measured!.uploadsPerMinPerWorker))).toBe(true);
  }, 120_000);
});
