/**
 * `convoy plan <kind> ... --work`: plan the run and work it in this same process until it ends
 * (worker/work-run.ts), print its status and exit 0 when every item is done, 1 otherwise. A
 * one-host migration in one command, as `rclone copy` is; `convoy worker` processes started
 * meanwhile (on this host or others) take the same run's items beside it.
 *
 * Declared on `plan` itself (like the retry policy options), so every kind's plan command has it;
 * each kind's plan action runs its plan through `planThenWork`. The work starts when the plan has
 * enqueued its first items (after the preflight, which finds bad input before anything is
 * written), so the first range is copied while the planner lists the next pages, as it is with a
 * fleet already waiting.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { InputError } from '../../shared/errors.js';
import { describeForCli, exitCodeFor } from './errors.js';
import type { EngineContext } from '../../worker/job-kind.js';
import { DEFAULT_GROW_AT_CORES, GROW_AT_CPU_RULE, GROW_SAMPLE_MS, parseGrowAtCores } from '../../worker/processes.js';
import type { HelperProcesses, WorkRunEnd } from '../../worker/work-run.js';

/** `--work`, and `--grow-at-cpu` (when it starts more processes), declared on `plan`. */
export function workOptions(): Option[] {
  return [
    new Option(
      '--work',
      'also work the run on this host until it ends: in this process, and in more (one per core at most) while every one is CPU-bound; `convoy worker` processes elsewhere may join; then print its status; exit 0 when every item is done, 1 otherwise',
    ),
    new Option(
      '--grow-at-cpu <cores>',
      `with --work: the CPU every process must use over ${GROW_SAMPLE_MS / 1000} s (a share of a core) before more start (default ${DEFAULT_GROW_AT_CORES})`,
    ).argParser((value) => {
      const n = parseGrowAtCores(value);
      if (n === undefined) throw new InvalidArgumentError(`--grow-at-cpu is ${GROW_AT_CPU_RULE}, got "${value}".`);
      return n;
    }),
  ];
}

type WorkFlags = { work?: boolean; growAtCpu?: number };
const flags = (cmd: Command) => cmd.optsWithGlobals() as WorkFlags;
const asked = (cmd: Command) => flags(cmd).work === true;

/**
 * The processes `--work` adds run `convoy worker` with the program's own options as given here
 * (--config, --state-dir, --log-level, --log-format): the same config, whatever the kind's options.
 */
function helpersOf(cmd: Command): HelperProcesses {
  let root = cmd;
  while (root.parent) root = root.parent;
  const globalArgs = root.options.flatMap((option) => {
    const value: unknown = root.getOptionValue(option.attributeName());
    if (value === undefined || value === false || !option.long) return [];
    return value === true ? [option.long] : [option.long, String(value)];
  });
  return { entry: process.argv[1]!, globalArgs, atCores: flags(cmd).growAtCpu };
}

/**
 * `plan`'s work options checked before any kind's plan action runs (a commander hook on `plan`
 * runs for its sub-commands' actions): `--grow-at-cpu` without `--work` exits 2 before the
 * action reads its config or state backend, whatever else is wrong. The hook is outside the
 * actions' error handling (errors.ts `action`), so it ends the process itself, as they would.
 */
export function checkWorkOptionsFirst(plan: Command): void {
  plan.hook('preAction', (_plan, actionCommand) => {
    if (!asked(actionCommand) && flags(actionCommand).growAtCpu !== undefined) {
      const refused = new InputError(
        '--grow-at-cpu applies to --work (the processes that work the run here): add --work or drop it',
      );
      process.stderr.write(`${describeForCli(refused)}\n`);
      process.exit(exitCodeFor(refused));
    }
  });
}

/** What a kind's plan command says comes next: start workers, or this process works the run. */
export function nextStep(cmd: Command, runId: string): string {
  return asked(cmd)
    ? 'working it in this process'
    : `Start workers with \`convoy worker\`; watch with \`convoy status --run ${runId}\``;
}

/**
 * A kind whose `--dry-run` plans no run (it only reads: s3-sync, dynamodb-copy) refuses `--work`
 * with it, before it reads anything. (The uploads kind's dry run is a run its workers work.)
 */
export function refuseWorkWithDryRun(cmd: Command): void {
  if (asked(cmd))
    throw new InputError(
      '--work cannot be combined with --dry-run: a dry run plans no run to work; drop one of the two',
    );
}

/**
 * A kind's plan of `runId`: `plan` it and `print` what it planned; with `--work`, also work the
 * run here to its end and print its status (JSON with `json`), returning the exit code (0 when
 * every item is done). Without `--work`: undefined.
 */
export async function planThenWork<R>(
  cmd: Command,
  ctx: EngineContext,
  runId: string,
  plan: () => Promise<R>,
  print: (planned: R) => void,
  opts: { json?: boolean } = {},
): Promise<number | undefined> {
  if (!asked(cmd)) {
    print(await plan());
    return undefined;
  }
  // loaded here: every command line builds `plan` and its options, few of them work a run
  const [{ workRun }, { runStatus, formatStatus }] = await Promise.all([
    import('../../worker/work-run.js'),
    import('../status.js'),
  ]);
  const planFailed = new AbortController();
  const helpers = helpersOf(cmd);
  const work = () =>
    workRun(ctx, runId, { log: ctx.log, signals: ['SIGINT', 'SIGTERM'], signal: planFailed.signal, helpers });
  let working: Promise<WorkRunEnd> | undefined;
  const off = ctx.events.on('plan:progress', (e) => {
    if (e.runId === runId) working ??= work();
  });
  let planned: R;
  try {
    planned = await plan();
  } catch (err) {
    // the items already enqueued stay for any worker (the run failed or waits for a re-plan)
    planFailed.abort();
    await working?.catch(() => undefined);
    throw err;
  } finally {
    off();
  }
  print(planned);
  // a plan that enqueued nothing (nothing to copy; planned before) is checked and over at once
  const end = await (working ?? work());
  const status = await runStatus(ctx, runId);
  if (opts.json) process.stdout.write(`${JSON.stringify(status)}\n`);
  else {
    process.stdout.write(`${formatStatus(status)}\n`);
    if (end.stoppedBy !== 'run')
      process.stdout.write(
        `stopped by ${end.stoppedBy} before the run ended: its items are kept; go on with \`convoy worker --run ${runId}\`\n`,
      );
    else if (status.counts.failed > 0)
      process.stdout.write(
        `${status.counts.failed} item(s) failed: see \`convoy status --run ${runId}\` and \`convoy report --run ${runId} --failed-only\`; after fixing the cause, \`convoy requeue --run ${runId}\`\n`,
      );
  }
  return status.run.state === 'done' && status.counts.failed === 0 ? 0 : 1;
}
