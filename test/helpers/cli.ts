/**
 * Running the real `convoy` CLI (dist/) as child processes against a test environment: a config
 * file naming the env's fresh tables, queues and remotes, so every process shares that state.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestEnv } from './stack.js';

export const CLI = path.resolve('dist/coordinator/cli/main.js');

/** Write a convoy.config.json for `env` (plus extra remotes); returns its path. */
export function writeCliConfig(
  env: TestEnv,
  extraRemotes: Record<string, unknown> = {},
  dir = mkdtempSync(path.join(tmpdir(), 'convoy-cli-')),
): string {
  const file = path.join(dir, 'convoy.config.json');
  const remotes = Object.fromEntries(Object.entries(env.config.remotes).map(([name, { name: _n, ...r }]) => [name, r]));
  writeFileSync(file, JSON.stringify({ state: env.config.state, remotes: { ...remotes, ...extraRemotes } }, null, 2));
  return file;
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(
  args: string[],
  opts: {
    config?: string;
    env?: NodeJS.ProcessEnv;
    timeoutMs?: number;
    /** another CLI entry (test kinds) */
    cli?: string;
  } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [opts.cli ?? CLI, ...(opts.config ? ['--config', opts.config] : []), ...args],
      {
        env: { ...process.env, CONVOY_LOG_LEVEL: 'warn', ...opts.env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`convoy ${args.join(' ')} timed out; stderr: ${stderr}`));
    }, opts.timeoutMs ?? 60_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Start a long-running `convoy worker` process (`cli`: a test CLI entry with more kinds). */
export function spawnWorker(
  config: string,
  args: string[] = [],
  env: NodeJS.ProcessEnv = {},
  cli = CLI,
): ChildProcess & { output: () => string } {
  let output = '';
  const child = spawn(process.execPath, [cli, '--config', config, 'worker', ...args], {
    env: { ...process.env, CONVOY_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  return Object.assign(child, { output: () => output });
}

export function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((r) => child.once('exit', (code) => r(code)));
}

/** A running `convoy serve`: its base URL, and stop (SIGTERM, then its exit). */
export interface RunningServe {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/**
 * `convoy serve --port 0` as a child process (`cliArgs`: the global options naming the
 * environment, `['--config', file]` or `['--state-dir', dir]`); resolves once it says where it
 * listens, rejects with its output if it exits first. `token`: CONVOY_API_TOKEN ('' = reads only).
 */
export async function startServe(cliArgs: string[], token = ''): Promise<RunningServe> {
  const child = spawn(process.execPath, [CLI, ...cliArgs, 'serve', '--port', '0'], {
    env: { ...process.env, CONVOY_LOG_LEVEL: 'warn', CONVOY_API_TOKEN: token },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stop = async () => {
    child.kill('SIGTERM');
    await exited(child);
  };
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      const seen = (d: Buffer) => {
        out += d.toString();
        const m = /listening on (http:\/\/\S+)/.exec(out);
        if (m) resolve(m[1]!);
      };
      child.stdout!.on('data', seen);
      child.stderr!.on('data', seen);
      child.once('exit', (code) => reject(new Error(`convoy serve exited ${code} before listening: ${out}`)));
    });
    return { url, child, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
