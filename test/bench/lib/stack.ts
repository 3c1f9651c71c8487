/**
 * The emulators for a benchmark, in their own process: `convoy local up --state-dir <dir>
 * --extra-s3 minio` (the way a user starts them), so their CPU is not the benchmark's and can be
 * measured on its own (/proc/<pid>/stat of the daemon).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readStackFile, STACK_FILE, type StackFile } from '../../../shared/config.js';
import { runQuiet } from './command.js';

/** The compiled CLI: dist/test/bench/lib -> dist/coordinator/cli/main.js */
export const CONVOY_CLI = fileURLToPath(new URL('../../../coordinator/cli/main.js', import.meta.url));

/** Repository root (for the results file and docs): dist/test/bench/lib -> ../../../.. */
export const REPO_ROOT = path.resolve(fileURLToPath(new URL('../../../../', import.meta.url)));

/** argv for the convoy CLI with a state directory (global options go before the command). */
export function convoyArgv(stateDir: string, ...args: string[]): string[] {
  return convoyArgvWithNode([], stateDir, ...args);
}

/** The same with node options first (profiling: --cpu-prof, --import a preload). */
export function convoyArgvWithNode(nodeArgs: string[], stateDir: string, ...args: string[]): string[] {
  return [process.execPath, ...nodeArgs, CONVOY_CLI, '--state-dir', stateDir, ...args];
}

/** The environment convoy commands run with: no config file from the caller, no stray state dir. */
export function convoyEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.CONVOY_CONFIG;
  delete env.CONVOY_STATE_DIR;
  // the SDK's Node 20 deprecation notice is noise in every log
  return { ...env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...extra };
}

export interface BenchStack {
  stateDir: string;
  stack: StackFile;
  /** the emulator daemon (dynalite + fauxqs "local" + fauxqs "minio"); with split state services, the S3 endpoints' */
  pid: number;
  /** split state services (startSplitBenchStack): the daemon serving convoy's DynamoDB tables and SQS queues */
  statePid?: number;
  down(): Promise<void>;
}

/**
 * `convoy local up` in `stateDir`. `nodeArgs` reach the daemon it forks (child_process.fork
 * passes on the parent's execArgv): `--cpu-prof --cpu-prof-dir <dir>` profiles the emulators
 * for their whole life (NODE_OPTIONS does not allow --cpu-prof).
 */
export async function startBenchStack(
  stateDir: string,
  extraS3: string[],
  opts: { cwd: string; nodeArgs?: string[] },
): Promise<BenchStack> {
  const extra = extraS3.length ? ['--extra-s3', ...extraS3] : [];
  await runQuiet(convoyArgvWithNode(opts.nodeArgs ?? [], stateDir, 'local', 'up', ...extra), {
    cwd: opts.cwd,
    env: convoyEnv(),
  });
  const stack = readStackFile(stateDir);
  if (!stack) throw new Error(`convoy local up did not write ${path.join(stateDir, 'stack.json')}`);
  for (const name of ['local', ...extraS3]) {
    if (!stack.remotes[name])
      throw new Error(`the local stack has no remote "${name}" (remotes: ${Object.keys(stack.remotes).join(', ')})`);
  }
  let stopped = false;
  return {
    stateDir,
    stack,
    pid: stack.pid,
    async down() {
      if (stopped) return;
      stopped = true;
      try {
        await runQuiet(convoyArgv(stateDir, 'local', 'down'), { cwd: opts.cwd, env: convoyEnv() });
      } finally {
        // Whatever the CLI did (a half-built tree can break it), the daemon this harness started
        // must not outlive the benchmark: stop it by its pid.
        await stopPid(stack.pid);
      }
    },
  };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM, wait up to 5 s (polling whether it is gone), then SIGKILL. */
async function stopPid(pid: number): Promise<void> {
  if (!alive(pid)) return;
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 100 && alive(pid); i++) await new Promise((r) => setTimeout(r, 50));
  if (alive(pid)) process.kill(pid, 'SIGKILL');
}

/** Whether the built CLI has `convoy plan s3-sync` (the job kind may not have landed yet). */
export async function convoyHasS3Sync(cwd: string): Promise<boolean> {
  const help = await runQuiet([process.execPath, CONVOY_CLI, 'plan', '--help'], { cwd, env: convoyEnv() }).catch(
    () => '',
  );
  return /^\s+s3-sync\b/m.test(help);
}

/**
 * Two emulator daemons, so that the S3 endpoints' CPU is measured apart from the CPU of convoy's
 * own state services (bench:s3 compares the endpoints' CPU per object with rclone's, which keeps
 * no state; on AWS the state table and queue are DynamoDB and SQS, paid in requests, not the
 * endpoints' CPU). `s3` serves the S3 remotes (`local` + `extraS3`); `state` serves the tables and
 * the queue (its own S3 endpoint unused). The returned stack's state dir holds a stack.json with
 * the state daemon's tables, queue and pid and the S3 daemon's remotes: what convoy is pointed at.
 */
export async function startSplitBenchStack(
  dir: string,
  extraS3: string[],
  opts: { cwd: string; nodeArgs?: string[]; stateNodeArgs?: string[] },
): Promise<BenchStack> {
  const s3 = await startBenchStack(path.join(dir, 's3-endpoints'), extraS3, { cwd: opts.cwd, nodeArgs: opts.nodeArgs });
  let state: BenchStack;
  try {
    state = await startBenchStack(path.join(dir, 'state-services'), [], {
      cwd: opts.cwd,
      nodeArgs: opts.stateNodeArgs,
    });
  } catch (err) {
    await s3.down().catch(() => undefined);
    throw err;
  }
  const stack: StackFile = { ...state.stack, remotes: s3.stack.remotes };
  const stateDir = path.join(dir, 'convoy');
  mkdirSync(stateDir, { recursive: true });
  writeFileSync(path.join(stateDir, STACK_FILE), JSON.stringify(stack, null, 2));
  return {
    stateDir,
    stack,
    pid: s3.pid,
    statePid: state.pid,
    async down() {
      await Promise.allSettled([s3.down(), state.down()]);
    },
  };
}
