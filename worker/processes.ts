/**
 * How `convoy worker --processes N|auto` divides a host among its worker processes, and when the
 * supervisor (./supervisor.ts) restarts one: pure decisions, no I/O (test/unit/processes.test.ts).
 *
 * Growing (`auto`): see GrowthPolicy below.
 *
 * Splitting: the counts an operator gives (--concurrency, --transfers, --threads) are the HOST's,
 * divided as evenly as they go (the first processes get the remainder), at least 1 each. Counts
 * not given keep each process at the single process's defaults (concurrency 8, transfers 64),
 * so a host does N times what one process did: those defaults were tuned for one event loop,
 * and the point of N processes is N event loops' worth of work. piscina threads not given are
 * divided over the processes: max(1, floor(cores / N)) each, so a host still has about one
 * thread per core for CPU work, not N per core.
 *
 * Restarts: a process that exits non-zero or by a signal while the supervisor is not stopping is
 * restarted after a full-jitter exponential delay (1 s base, 30 s cap) that starts over once a
 * process has stayed up a minute; one that exits 0 (--exit-when-idle) is done; one that exits 2
 * (bad input, which a restart cannot fix) ends the host.
 */
import { fullJitterDelayMs } from '../shared/backoff.js';
import { youngGenerationArgs } from '../shared/young-generation.js';
import { DEFAULT_CONCURRENCY, DEFAULT_TRANSFERS, MAX_CONCURRENCY, MAX_TRANSFERS } from './options.js';

/** The most processes one supervisor starts. */
export const MAX_PROCESSES = 256;

export type ProcessesSetting = number | 'auto';

/** `--processes` as given: 'auto' or an integer 1..MAX_PROCESSES; undefined when it is neither. */
export function parseProcesses(value: string): ProcessesSetting | undefined {
  const v = value.trim().toLowerCase();
  if (v === 'auto') return 'auto';
  if (!/^\d+$/.test(v)) return undefined;
  const n = Number(v);
  return n >= 1 && n <= MAX_PROCESSES ? n : undefined;
}

/** The most processes of a host: auto = one per core (started as they are needed: GrowthPolicy). */
export function resolveProcesses(setting: ProcessesSetting, cores: number): number {
  return setting === 'auto' ? Math.min(MAX_PROCESSES, Math.max(1, Math.floor(cores))) : setting;
}

/** `total` over `parts` as evenly as it goes, the first ones taking the remainder; at least 1 each. */
export function splitTotal(total: number, parts: number): number[] {
  const base = Math.floor(total / parts);
  const extra = total % parts;
  return Array.from({ length: parts }, (_, i) => Math.max(1, base + (i < extra ? 1 : 0)));
}

/** What one child process of a host is started with. */
export interface ChildPlan {
  /** 1..processes; a restarted child keeps its slot (and its worker id) */
  slot: number;
  workerId: string;
  /** undefined: the worker's own default */
  concurrency?: number;
  transfers?: number;
  threads: number;
}

export interface HostInput {
  processes: number;
  cores: number;
  /** the host's worker id: children are `<id>-p1` .. `<id>-pN` */
  workerId: string;
  /** host totals, as given (undefined: not given) */
  concurrency?: number;
  transfers?: number;
  threads?: number;
}

export function planChildren(input: HostInput): ChildPlan[] {
  const n = input.processes;
  const split = (total: number | undefined) => (total === undefined ? undefined : splitTotal(total, n));
  const concurrency = split(input.concurrency);
  const transfers = split(input.transfers);
  const threads = split(input.threads) ?? Array<number>(n).fill(Math.max(1, Math.floor(input.cores / n)));
  return Array.from({ length: n }, (_, i) => ({
    slot: i + 1,
    workerId: `${input.workerId}-p${i + 1}`,
    concurrency: concurrency?.[i],
    transfers: transfers?.[i],
    threads: threads[i]!,
  }));
}

/**
 * `--processes auto` grows the host as it needs (./supervisor.ts). It starts one process with
 * the host's whole counts and starts more (as many again, up to one per core: processesToStart)
 * only when every running one has used at least `atCores` of a core over a sample window: a
 * process that is not CPU-bound gains nothing from a sibling, and one process spends less CPU per
 * object than two sharing the same work (bench:s3 (a) and (c) on 2 cores, docs/benchmarks.md
 * session 17: 20-35% less, as fast or faster, where the endpoints take the cores one process
 * leaves). Processes are never taken away: a host that needed N keeps N until it stops.
 *
 * Whether a core is free is not checked: a process that gets 0.9 of a core over the window was
 * scheduled that much, which a host whose cores are all busy does not give it.
 */
export interface GrowthPolicy {
  /** processes started at once. @defaultValue 1 */
  initial: number;
  /** the CPU (in cores, 0..1) every running process must have used over a window. @defaultValue 0.9 */
  atCores: number;
  /** the sample window. @defaultValue 3000 */
  sampleMs: number;
  /** the host's totals, divided over the processes running */
  concurrency: number;
  transfers: number;
}

export const DEFAULT_GROW_AT_CORES = 0.9;

/** `--grow-at-cpu` as given: a share of one core in (0, 1]; undefined when it is not. */
export function parseGrowAtCores(value: string): number | undefined {
  const n = Number(value);
  return value.trim() !== '' && n > 0 && n <= 1 ? n : undefined;
}

/** What `--grow-at-cpu` takes, for the error that names it. */
export const GROW_AT_CPU_RULE = 'a share of one core, more than 0 and at most 1 (e.g. 0.9)';
export const GROW_SAMPLE_MS = 3_000;

/**
 * The growth policy of `--processes auto` on a host of `max` processes: totals not given are
 * what `max` lone processes would take (8 items, 64 transfers each), so a host that grows to
 * one per core ends with what `--processes <cores>` starts with.
 */
export function growthPolicy(
  input: Pick<HostInput, 'processes' | 'concurrency' | 'transfers'>,
  atCores = DEFAULT_GROW_AT_CORES,
): GrowthPolicy {
  return {
    initial: 1,
    atCores,
    sampleMs: GROW_SAMPLE_MS,
    concurrency: input.concurrency ?? DEFAULT_CONCURRENCY * input.processes,
    transfers: input.transfers ?? DEFAULT_TRANSFERS * input.processes,
  };
}

/**
 * What the process in `slot` (1-based) takes of the host's totals while `running` processes share
 * them; no more than one process takes (a 128-core host's first process would otherwise be given
 * 1,024 items).
 */
export function shareOf(
  policy: GrowthPolicy,
  running: number,
  slot: number,
): { concurrency: number; transfers: number } {
  return {
    concurrency: Math.min(MAX_CONCURRENCY, splitTotal(policy.concurrency, running)[slot - 1]!),
    transfers: Math.min(MAX_TRANSFERS, splitTotal(policy.transfers, running)[slot - 1]!),
  };
}

/**
 * How many processes to start now: none unless there is a slot left and every running process
 * used at least `atCores` over the last window (`cpuCores`: one figure per running process,
 * undefined while one has no full window yet, as after its start, whose module loading is not
 * work); then as many as are running, up to the slots left. Doubling, like TCP's slow start: a
 * 64-core host reaches 64 in 6 windows (18 s), not 63 (over 3 minutes), and a host whose work
 * needs 3 processes stops at 4, each process then taking a quarter of the host's totals.
 */
export function processesToStart(
  cpuCores: Array<number | undefined>,
  max: number,
  policy: Pick<GrowthPolicy, 'atCores'>,
): number {
  const running = cpuCores.length;
  if (running === 0 || running >= max) return 0;
  if (!cpuCores.every((c) => c !== undefined && c >= policy.atCores)) return 0;
  return Math.min(running, max - running);
}

/** Host totals below the process count are raised to it (one each): say so. */
export function raisedTotals(input: HostInput): string[] {
  return (['concurrency', 'transfers', 'threads'] as const).flatMap((k) => {
    const v = input[k];
    return v !== undefined && v < input.processes ? [`--${k} ${v} < ${input.processes} processes: 1 each`] : [];
  });
}

export interface RestartPolicy {
  /** @defaultValue 1000 */
  baseMs: number;
  /** @defaultValue 30000 */
  capMs: number;
  /** a child up this long starts the backoff over. @defaultValue 60000 */
  resetAfterMs: number;
}

export const DEFAULT_RESTART: RestartPolicy = { baseMs: 1_000, capMs: 30_000, resetAfterMs: 60_000 };

/** Consecutive quick failures of a slot, counting the exit of a child that was up `upMs`. */
export function nextStreak(streak: number, upMs: number, policy: RestartPolicy = DEFAULT_RESTART): number {
  return upMs >= policy.resetAfterMs ? 1 : streak + 1;
}

/** Delay before restarting a slot after its `streak`-th consecutive quick failure. */
export function restartDelayMs(
  streak: number,
  policy: RestartPolicy = DEFAULT_RESTART,
  random: () => number = Math.random,
): number {
  return fullJitterDelayMs(streak, { baseMs: policy.baseMs, capMs: policy.capMs }, random);
}

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Exit code of bad input: the child would fail the same way again. */
export const INPUT_ERROR_EXIT = 2;

/** What the supervisor does when a child exits. */
export type ExitAction = 'done' | 'restart' | 'give-up' | 'drained';

export function onChildExit(exit: ChildExit, stopping: boolean): ExitAction {
  if (stopping) return 'drained';
  if (exit.code === 0) return 'done';
  if (exit.code === INPUT_ERROR_EXIT) return 'give-up';
  return 'restart';
}

/**
 * Whether a child stopped cleanly when the supervisor stopped it: exit 0, or killed by the signal
 * forwarded to it before it had set up its handler (it had taken no work yet). A child the
 * supervisor had to SIGKILL, or that exited non-zero, did not.
 */
export function drainedCleanly(exit: ChildExit): boolean {
  return exit.code === 0 || exit.signal === 'SIGTERM' || exit.signal === 'SIGINT';
}

/** The supervisor's exit code from its children's last exits. */
export function hostExitCode(exits: ChildExit[], opts: { stopped: boolean; gaveUp: boolean }): number {
  if (opts.gaveUp) return INPUT_ERROR_EXIT;
  const clean = opts.stopped ? exits.every(drainedCleanly) : exits.every((e) => e.code === 0);
  return clean ? 0 : 1;
}

/**
 * How long the supervisor waits for its children to drain before SIGKILL: what each child may
 * take (its deadline, then the force time for handlers that ignore their abort) plus a margin
 * for releasing items and writing the last heartbeat.
 */
export function drainWaitMs(child: { shutdownDeadlineMs: number; shutdownForceMs: number }, marginMs = 5_000): number {
  return child.shutdownDeadlineMs + child.shutdownForceMs + marginMs;
}

/**
 * The node options a host's children start with, before this process's own (`execArgv`): the
 * fixed young generation (shared/young-generation.ts) unless the operator sized it (in `execArgv`
 * or NODE_OPTIONS), and no module syntax detection (see worker/cli.ts).
 */
export function childNodeArgs(execArgv: string[], nodeOptions = ''): string[] {
  return ['--no-experimental-detect-module', ...youngGenerationArgs(execArgv, nodeOptions), ...execArgv];
}
