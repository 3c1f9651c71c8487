/**
 * The --watch dashboard in a real terminal: a local stack (`convoy local up`, DynamoDB on disk),
 * a synthetic run, two workers, and `convoy monitor --watch` in a tmux pane read with
 * capture-pane. Checks the numbers shown against the state, that a killed worker turns STALE,
 * and that stopping the local stack shows an error in the status line and then recovers.
 * Needs tmux (apt-get install -y tmux) and the compiled CLI (npm test runs tsc first).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSummary } from '../../monitor/summary.js';
import { loadConfig } from '../../shared/config.js';
import { createContext } from '../../shared/context.js';
import { silentLogger } from '../../shared/log.js';
import { waitUntil } from '../helpers/stack.js';
import { expectedOutcome } from './fixtures/synth-kind.js';

const CLI = path.resolve('dist/test/monitor/fixtures/convoy-test-cli.js');
const hasTmux = (() => {
  try {
    execFileSync('tmux', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

const ITEMS = 40;
const FAIL_EVERY = 10;
const stateDir = mkdtempSync(path.join(tmpdir(), 'convoy-dash-'));
const session = `convoy-dash-${process.pid}`;
const childEnv = { ...process.env, NODE_NO_WARNINGS: '1', CONVOY_LOG_LEVEL: 'error', CONVOY_STATE_DIR: stateDir };
const workers: ChildProcess[] = [];

function convoy(...args: string[]): string {
  return execFileSync(process.execPath, [CLI, ...args], { env: childEnv, encoding: 'utf8', timeout: 60_000 });
}

function startWorker(instance: string): ChildProcess {
  const child = spawn(
    process.execPath,
    [
      CLI,
      'worker',
      // the dashboard shows this pid, and the test kills it -9 (--processes 1: the worker alone)
      '--processes',
      '1',
      '--instance',
      instance,
      '--concurrency',
      '4',
      '--wait-seconds',
      '1',
      '--lease-ms',
      '5000',
      '--threads',
      '1',
    ],
    {
      env: childEnv,
      stdio: 'ignore',
    },
  );
  workers.push(child);
  return child;
}

const pane = () => execFileSync('tmux', ['capture-pane', '-p', '-t', session], { encoding: 'utf8' });

describe.skipIf(!hasTmux)('monitor --watch in tmux', () => {
  beforeAll(() => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npx tsc -p .\` first (npm test does)`);
    convoy('local', 'up');
    convoy(
      'plan',
      'synth',
      '--run',
      'r1',
      '--spec',
      JSON.stringify({ items: ITEMS, failEvery: FAIL_EVERY, delayMs: 100 }),
    );
  });

  afterAll(() => {
    try {
      execFileSync('tmux', ['kill-session', '-t', session], { stdio: 'ignore' });
    } catch {
      // already gone
    }
    for (const w of workers) if (w.exitCode === null) w.kill('SIGKILL');
    try {
      convoy('local', 'down');
    } catch {
      // already down
    }
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('shows the state, marks a killed worker stale, and survives a stopped local stack', async () => {
    const a = startWorker('a');
    startWorker('b');
    const cmd = [process.execPath, CLI, 'monitor', '--watch', '--run', 'r1', '--interval', '1', '--stale-after', '8']
      .map((s) => `'${s}'`)
      .join(' ');
    execFileSync('tmux', [
      'new-session',
      '-d',
      '-s',
      session,
      '-x',
      '200',
      '-y',
      '50',
      `env TERM=xterm-256color NODE_NO_WARNINGS=1 CONVOY_LOG_LEVEL=error CONVOY_STATE_DIR='${stateDir}' ${cmd} 2>/dev/null`,
    ]);

    // 1. The numbers shown match the state once the run has finished.
    const expectedFailed = Array.from({ length: ITEMS }, (_, i) => expectedOutcome(i, FAIL_EVERY)).filter(
      (o) => o !== 'done',
    );
    const done = ITEMS - expectedFailed.length;
    const corrupt = expectedFailed.filter((o) => o === 'SYNTH_CORRUPT').length;
    const missing = expectedFailed.length - corrupt;
    // every figure of the finished run on one screen: the counts and the error classes are read
    // apart, and a loaded machine (CI) has shown one refresh with the last failure in the error
    // classes but not yet in the failed count; the next refresh has both
    const screen = await waitUntil(
      () => {
        const p = pane();
        return p.includes(`done ${done} (`) &&
          p.includes(`failed ${expectedFailed.length} (`) &&
          new RegExp(`SYNTH_CORRUPT\\s+${corrupt}\\s`).test(p) &&
          new RegExp(`SYNTH_MISSING\\s+${missing}\\s`).test(p)
          ? p
          : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250, what: 'the dashboard to show the finished run' },
    );
    const ctx = await createContext(loadConfig({ stateDir, env: {} }), { log: silentLogger });
    try {
      const s = await buildSummary(ctx, 'r1');
      expect(s.counts).toMatchObject({ done, failed: expectedFailed.length, pending: 0, leased: 0 });
      expect(screen).toContain(`done ${s.counts.done} (${((100 * s.counts.done) / ITEMS).toFixed(1)}%)`);
      expect(screen).toContain(`failed ${s.counts.failed} (`);
      // The gauge is progress (done / total) with failed shown apart: 90%, not 100% with 10% failed.
      const pct = (n: number) => ((100 * n) / ITEMS).toFixed(1);
      expect(screen).toContain(
        `done ${s.counts.done}/${ITEMS} (${pct(s.counts.done)}%)  failed ${s.counts.failed} (${pct(s.counts.failed)}%)`,
      );
      expect(screen).toContain(`${Math.floor((100 * s.counts.done) / ITEMS)}%`);
      expect(screen).not.toMatch(/\b100%/);
    } finally {
      ctx.close();
    }
    const workerRow = (instance: string, pid: number, state: string) =>
      new RegExp(`\\b${instance}\\s+\\S+\\s+${pid}\\s.*\\b${state}\\b`);
    await waitUntil(() => workerRow('a', a.pid!, 'ALIVE').test(pane()), {
      timeoutMs: 15_000,
      what: 'worker a shown alive',
    });

    // 2. A worker killed without a goodbye turns STALE after --stale-after.
    a.kill('SIGKILL');
    await waitUntil(() => workerRow('a', a.pid!, 'STALE').test(pane()), {
      timeoutMs: 30_000,
      intervalMs: 250,
      what: 'worker a shown stale',
    });
    expect(pane()).toMatch(/\bb\s+\S+\s+\d+\s.*\bALIVE\b/);

    // 3. The local stack goes away: the status line says so and the dashboard keeps running.
    convoy('local', 'down');
    const down = await waitUntil(
      () =>
        pane()
          .split('\n')
          .find((l) => l.startsWith('ERROR ')),
      { timeoutMs: 30_000, intervalMs: 250, what: 'an error in the status line' },
    );
    expect(down).toMatch(/SERVICE_UNAVAILABLE|ECONNREFUSED|TIMEOUT/);
    convoy('local', 'up');
    await waitUntil(
      () =>
        pane()
          .split('\n')
          .some((l) => l.startsWith('OK refreshed')),
      { timeoutMs: 30_000, intervalMs: 250, what: 'the status line to recover' },
    );
    expect(pane()).toContain(`done ${done} (`);

    // q quits.
    execFileSync('tmux', ['send-keys', '-t', session, 'q']);
    await waitUntil(
      () => {
        try {
          execFileSync('tmux', ['has-session', '-t', session], { stdio: 'ignore' });
          return false;
        } catch {
          return true;
        }
      },
      { timeoutMs: 10_000, what: 'the dashboard to quit on q' },
    );
  }, 150_000);
});
