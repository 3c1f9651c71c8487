/**
 * `convoy plan <kind> --work` moves data in its own process (the plan's process works the run). It
 * needs the fixed young generation a host's worker processes start with (shared/young-generation.ts:
 * on Node 24 half the CPU per large object, and a bound on the RSS), and a process cannot give it
 * to itself: only its command line can. So the CLI's entry (main.ts) asks here first, before it
 * loads anything else, and `plan --work` starts again at once as a child with the flags. This
 * process then only passes signals and the exit status on: one bare node start more (~50 ms of
 * CPU), against what bench:s3 measured for `plan --work` with the flags (docs/benchmarks.md).
 *
 * Not `worker --processes 1`: that is "this process alone", the one an operator's kill -9 (and
 * every fault test's) means to end at once; its flags are the operator's to give (README).
 *
 * Signals: the child shares this process's group, so a terminal's Ctrl-C or systemd's SIGTERM to
 * the unit reaches it directly, and this process forwards what it gets too (a `kill` of its pid
 * alone must reach the child). The child is told (CONVOY_RELAUNCHED) that a signal can come
 * twice and stops once (shared/signals.ts); a second signal here is a second request (Ctrl-C
 * twice), and ends the child at once, as the second signal ends a process that was not
 * relaunched. A kill -9 of this process ends the child within a second (`dieWithParent`).
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { youngGenerationArgs } from '../../shared/young-generation.js';
import { RELAUNCHED_ENV, takeRelaunchMark } from '../../shared/signals.js';

/** The program's options that take a value and come before the command (program.ts). */
const GLOBAL_OPTIONS_WITH_VALUE = new Set(['--config', '--state-dir', '--log-level']);

/** The command (the first argument that is not a global option or its value) and what follows it. */
function commandOf(args: readonly string[]): { command?: string; rest: readonly string[] } {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (GLOBAL_OPTIONS_WITH_VALUE.has(a)) i++;
    else if (!a.startsWith('-')) return { command: a, rest: args.slice(i + 1) };
  }
  return { rest: [] };
}

/** Whether the command line is `plan ... --work`, whose own process moves the data. */
export function movesDataInOwnProcess(args: readonly string[]): boolean {
  const { command, rest } = commandOf(args);
  return command === 'plan' && rest.includes('--work');
}

/**
 * The node flags to start again with, or undefined to go on in this process: not such a command,
 * or the young generation is sized already (by the operator, or this is the relaunched process).
 */
export function relaunchNodeArgs(
  args: readonly string[],
  execArgv: readonly string[],
  env: NodeJS.ProcessEnv,
): string[] | undefined {
  if (!movesDataInOwnProcess(args)) return undefined;
  const flags = youngGenerationArgs(execArgv, env.NODE_OPTIONS);
  return flags.length > 0 ? flags : undefined;
}

const FORWARDED: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/**
 * Start this command line again with the flags when it needs them, and wait for it: true when it
 * ran (process.exitCode is then the child's status, 128 + the signal's number when a signal ended
 * it, as a shell reports it); false when this process should go on with the command itself.
 */
export async function relaunchIfNeeded(): Promise<boolean> {
  const parentPid = takeRelaunchMark();
  if (parentPid !== undefined) {
    dieWithParent(parentPid);
    return false;
  }
  const args = process.argv.slice(2);
  const flags = relaunchNodeArgs(args, process.execArgv, process.env);
  if (!flags) return false;
  const child = spawn(process.execPath, [...flags, ...process.execArgv, process.argv[1]!, ...args], {
    stdio: 'inherit',
    env: { ...process.env, [RELAUNCHED_ENV]: String(process.pid) },
  });
  const received = new Map<NodeJS.Signals, number>();
  const forward = (signal: NodeJS.Signals) => {
    const times = (received.get(signal) ?? 0) + 1;
    received.set(signal, times);
    child.kill(times > 1 && signal !== 'SIGHUP' ? 'SIGKILL' : signal);
  };
  for (const s of FORWARDED) process.on(s, forward);
  const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  for (const s of FORWARDED) process.off(s, forward);
  process.exitCode = exit.signal ? 128 + (constants.signals[exit.signal] ?? 0) : (exit.code ?? 1);
  return true;
}

/** How often a relaunched command looks whether its parent is still there. */
const PARENT_CHECK_MS = 1_000;

/**
 * A relaunched command ends at once when its parent is gone: the parent only dies first when
 * something killed it (kill -9, the OOM killer), and whoever did meant the command.
 */
function dieWithParent(parentPid: number): void {
  if (!Number.isInteger(parentPid) || parentPid <= 1) return;
  setInterval(() => {
    if (process.ppid !== parentPid) process.kill(process.pid, 'SIGKILL');
  }, PARENT_CHECK_MS).unref();
}
