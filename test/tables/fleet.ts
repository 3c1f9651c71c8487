/**
 * Spawned worker processes (`node dist/coordinator/cli/main.js worker`) against a test's local
 * stack, for kill -9 tests. `npm test` builds dist first.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ConvoyConfig } from '../../shared/config.js';

export const CLI = path.resolve('dist/coordinator/cli/main.js');

export function requireDist(): void {
  if (!existsSync(CLI))
    throw new Error(`${CLI} is missing: run \`npx tsc -p .\` (npm test does) before the fleet tests`);
}

/** A config file naming the test's state backend and remotes, for child processes. */
export function writeFleetConfig(dir: string, config: ConvoyConfig): string {
  const file = path.join(dir, 'convoy.config.json');
  const remotes: Record<string, unknown> = {};
  for (const [name, r] of Object.entries(config.remotes)) {
    const { name: _n, ...rest } = r;
    remotes[name] = rest;
  }
  writeFileSync(file, JSON.stringify({ state: config.state, remotes }, null, 2));
  return file;
}

export interface SpawnedWorker {
  id: string;
  child: ChildProcess;
  exited: Promise<number | null>;
}

/** The runs' retry policy in the fleet tests: quick retries, so a killed worker's peers retry soon. */
export const FLEET_RETRY = { backoffBaseMs: 200 } as const;

export function spawnWorker(configFile: string, dir: string, id: string, extra: string[] = []): SpawnedWorker {
  const log = openSync(path.join(dir, `${id}.log`), 'a');
  const child = spawn(
    process.execPath,
    [
      CLI,
      '--config',
      configFile,
      '--state-dir',
      dir,
      'worker',
      // one process per worker id: the tests kill -9 this pid to crash that worker (--processes 1:
      // no supervisor in between that would restart it)
      '--processes',
      '1',
      '--worker-id',
      id,
      '--concurrency',
      '8',
      '--lease-ms',
      '4000',
      '--wait-seconds',
      '1',
      '--threads',
      '1',
      '--exit-when-idle',
      '8000',
      ...extra,
    ],
    { stdio: ['ignore', log, log], env: { ...process.env, CONVOY_LOG_LEVEL: 'warn' } },
  );
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { id, child, exited };
}

export async function stopAll(workers: SpawnedWorker[]): Promise<void> {
  for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGTERM');
  await Promise.all(workers.map((w) => Promise.race([w.exited, new Promise((r) => setTimeout(r, 10_000))])));
  for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
}
