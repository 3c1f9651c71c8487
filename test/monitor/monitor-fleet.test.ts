/**
 * The fleet-wide monitor with the real CLI against a local stack: `convoy monitor` without --run
 * is a table of every active run, and `convoy monitor --watch` without --run follows a run
 * planned after it started (line output: stdout is a pipe here).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { S3Client } from '@aws-sdk/client-s3';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI, exited, runCli, writeCliConfig } from '../helpers/cli.js';
import { useTwoEndpointStack } from '../helpers/s3.js';
import { freshEnv, waitUntil, type TestStack } from '../helpers/stack.js';
import { cliJson, planSync, seedObjects } from '../fleet-accounting/helpers.js';

let t: TestStack;
let minio: S3Client;
useTwoEndpointStack((s) => ({ t, minio } = s));

const children: ChildProcess[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) {
    if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
    await exited(c);
  }
});

describe('convoy monitor without --run (CLI)', () => {
  it('without --run: a table of every active run; --watch follows a run planned after it started', async () => {
    await seedObjects(minio, 'fleet-src', 'd', 6, () => 1000);
    const env = await freshEnv(t.stack);
    const config = writeCliConfig(env);
    await planSync(config, [
      '--from',
      'minio:fleet-src',
      '--to',
      'local:fleet-dst-1',
      '--create-buckets',
      '--range-keys',
      '3',
      '--run',
      'first',
    ]);

    const watch = spawn(process.execPath, [CLI, '--config', config, 'monitor', '--watch', '--interval', '1'], {
      env: { ...process.env, CONVOY_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(watch);
    let lines = '';
    watch.stdout.on('data', (d) => (lines += d));
    await waitUntil(() => lines.includes('run=first'), { timeoutMs: 20_000, what: 'the watch to show the first run' });

    await planSync(config, [
      '--from',
      'minio:fleet-src',
      '--to',
      'local:fleet-dst-2',
      '--create-buckets',
      '--range-keys',
      '3',
      '--run',
      'second',
    ]);
    await waitUntil(() => lines.includes('run=second'), {
      timeoutMs: 20_000,
      what: 'the watch to follow the run planned after it started',
    });

    // (read at once: two CLI processes side by side)
    const [fleet, { stdout: table }] = await Promise.all([
      cliJson(config, ['monitor']),
      runCli(['monitor'], { config }),
    ]);
    expect(fleet.runs.map((r: { runId: string }) => r.runId)).toEqual(['second', 'first']);
    for (const r of fleet.runs) expect(r).toMatchObject({ state: 'running', done: 0, failed: 0 });
    expect(table).toMatch(/^2 active run\(s\)/);
    expect(table).toMatch(/^second\s+s3-sync\s+running\s+0\/\d+ 0\.0%/m);
    expect(table).toMatch(/^first\s+s3-sync\s+running\s+0\/\d+ 0\.0%/m);
    env.close();
  }, 90_000);
});
