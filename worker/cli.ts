/**
 * `convoy worker`: work items until SIGTERM/SIGINT (or until idle with --exit-when-idle), with one
 * process per core at most by default: `--processes N|auto` makes this process the host's
 * supervisor (./supervisor.ts), which starts N worker processes running this same command line
 * (auto: one, then another each time all are CPU-bound, up to one per core), each with its share
 * of the host's --concurrency/--transfers/--threads (./processes.ts); `--processes 1` is this
 * process alone, as before. The job kinds add their own options and start hooks (the uploads
 * kind's --customers-file): the registry hands them in, and every hook runs once per host,
 * checking its options, before any work is taken.
 */
import { availableParallelism } from 'node:os';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { action } from '../coordinator/cli/errors.js';
import { configFrom, intOption, runIdsOption } from '../coordinator/cli/globals.js';
import { InputError } from '../shared/errors.js';
import { createLogger, resolveLogFormat, type Logger } from '../shared/log.js';
import { childSettings, linkChild, releaseBarrier, type ChildSettings } from './host-link.js';
import { withKinds, type EngineContext, type KindRegistry, type ProcessGauge } from './job-kind.js';
import { parseWorkerOptions, type WorkerOptions, type WorkerOptionsInput } from './options.js';
import {
  childNodeArgs,
  DEFAULT_GROW_AT_CORES,
  GROW_AT_CPU_RULE,
  GROW_SAMPLE_MS,
  growthPolicy,
  MAX_PROCESSES,
  parseGrowAtCores,
  parseProcesses,
  planChildren,
  raisedTotals,
  resolveProcesses,
  type ProcessesSetting,
} from './processes.js';
import { Supervisor } from './supervisor.js';
import { onStopSignals } from '../shared/signals.js';

const GROW_WINDOW_S = GROW_SAMPLE_MS / 1000;

/** Worker flags of earlier releases that are now the run's (`convoy plan`). */
const MOVED_TO_PLAN = ['--max-attempts', '--backoff-base-ms', '--backoff-cap-ms'] as const;
const camelCase = (flag: string) => flag.slice(2).replace(/-(\w)/g, (_m, c: string) => c.toUpperCase());

function processesOption(value: string): ProcessesSetting {
  const p = parseProcesses(value);
  if (p === undefined)
    throw new InvalidArgumentError(
      `--processes must be "auto" (one per core) or an integer from 1 to ${MAX_PROCESSES}, got "${value}".`,
    );
  return p;
}

function growAtOption(value: string): number {
  const n = parseGrowAtCores(value);
  if (n === undefined) throw new InvalidArgumentError(`--grow-at-cpu is ${GROW_AT_CPU_RULE}, got "${value}".`);
  return n;
}

export function registerWorkerCommand(program: Command, kinds: KindRegistry): Command {
  const command = program.command('worker');
  command
    .description('take work items from the queue and do them (many in flight), until SIGTERM/SIGINT')
    .option(
      '--processes <n|auto>',
      'worker processes on this host, one event loop each, sharing the counts below (default: auto = one, and another each time all are CPU-bound, up to one per core; 1 = this process alone)',
      processesOption,
    )
    .option(
      '--grow-at-cpu <cores>',
      `with --processes auto: the CPU every process must use over ${GROW_WINDOW_S} s (a share of a core) before the next starts (default ${DEFAULT_GROW_AT_CORES})`,
      growAtOption,
    )
    .option('--concurrency <n>', 'items in flight (the host total; default 8 per process)', intOption('--concurrency'))
    .option(
      '--transfers <n>',
      'object transfers in flight across items (the host total; default 64 per process)',
      intOption('--transfers'),
    )
    .option('--threads <n>', 'piscina threads for CPU work (the host total; default: cores)', intOption('--threads'))
    .option('--lease-ms <ms>', 'item lease length', intOption('--lease-ms'))
    .option('--wait-seconds <s>', 'long-poll wait', intOption('--wait-seconds'))
    .option(
      '--shutdown-deadline-ms <ms>',
      'how long SIGTERM waits for in-flight items',
      intOption('--shutdown-deadline-ms'),
    )
    .option('--exit-when-idle <ms>', 'exit after the queue has been empty this long', intOption('--exit-when-idle'))
    .option('--instance <label>', 'instance label shown by the monitor')
    .option('--run <id...>', 'only work items of these runs', runIdsOption)
    .option('--worker-id <id>', 'worker id (default host-pid-random; with several processes, <id>-p1 .. <id>-pN)')
    .option(
      '--metrics-port <port>',
      "serve /healthz and /metrics on 127.0.0.1:<port> (0 = any free port): the host's, for all its processes",
      intOption('--metrics-port'),
    );
  // Retry flags moved to the run (`convoy plan`): say so instead of commander's "unknown option".
  for (const flag of MOVED_TO_PLAN) command.addOption(new Option(`${flag} <value>`).hideHelp());
  command.action(
    action(async (opts: Record<string, unknown>, cmd: Command) => {
      const moved = MOVED_TO_PLAN.filter((flag) => opts[camelCase(flag)] !== undefined);
      if (moved.length)
        throw new InputError(
          `${moved.join(', ')}: a run's retry policy is set when it is planned, so that every worker applies the same one; ` +
            `give it to \`convoy plan <kind> ${moved.map((f) => `${f} ...`).join(' ')}\` and start the worker without it`,
        );
      const setting = (opts.processes as ProcessesSetting | undefined) ?? 'auto';
      if (opts.growAtCpu !== undefined && setting !== 'auto')
        throw new InputError(
          `--grow-at-cpu applies to --processes auto (a host that starts processes as it needs them); with --processes ${String(opts.processes)} every process starts at once: drop one of the two`,
        );
      // set when this process is one of a supervisor's: its id and shares come from there
      const child = childSettings();
      const config = configFrom(cmd);
      const log = createLogger(config.logLevel, {}, config.logFormat ?? resolveLogFormat());
      const input = workerInput(opts, child);
      const options = parseWorkerOptions(input); // checked before anything is written
      const processes = child ? 1 : resolveProcesses(setting, availableParallelism());
      // The engine (the AWS clients and the worker loop) loads only in a process that needs it:
      // a supervisor that only starts its processes never does (~1 s of CPU at every host start).
      let ctx: EngineContext | undefined;
      const engine = async () =>
        (ctx ??= withKinds(await (await import('../shared/context.js')).createContext(config, { log }), kinds));
      // The kinds' start hooks check their options (a missing customers file exits 2) and act
      // on them before any process of the host takes work or writes its heartbeat: once per
      // host (a supervisor's children skip them).
      try {
        if (!child) for (const plugin of kinds.plugins) await plugin.beforeWorkerStart?.(engine, opts);
      } catch (err) {
        ctx?.close();
        throw err;
      }
      if (processes > 1) {
        ctx?.close();
        return superviseHost(opts, options, processes, setting === 'auto', log);
      }
      // ...and apply them in every process that works items (a lone worker, or each child).
      for (const plugin of kinds.plugins) plugin.configureWorkerProcess?.(opts);
      const gauges = kinds.plugins.flatMap((plugin) => plugin.processGauges?.() ?? []);
      await runWorker(await engine(), input, opts, child, log, gauges);
    }),
  );
  for (const plugin of kinds.plugins) for (const option of plugin.workerOptions?.() ?? []) command.addOption(option);
  return command;
}

/** The worker's options from the command line; a supervisor's child takes its id and shares from it. */
function workerInput(opts: Record<string, unknown>, child: ChildSettings | undefined): WorkerOptionsInput {
  return {
    concurrency: child ? child.concurrency : (opts.concurrency as number | undefined),
    transfers: child ? child.transfers : (opts.transfers as number | undefined),
    threads: child ? child.threads : (opts.threads as number | undefined),
    workerId: child ? child.workerId : (opts.workerId as string | undefined),
    supervised: child && { pid: child.supervisorPid, slot: child.slot, processes: child.processes },
    leaseMs: opts.leaseMs as number | undefined,
    waitSeconds: opts.waitSeconds as number | undefined,
    shutdownDeadlineMs: opts.shutdownDeadlineMs as number | undefined,
    exitWhenIdleMs: opts.exitWhenIdle as number | undefined,
    instance: opts.instance as string | undefined,
    runs: opts.run as string[] | undefined,
  };
}

/** One worker process: a lone one (`--processes 1`), or one of a supervisor's. */
async function runWorker(
  ctx: EngineContext,
  input: WorkerOptionsInput,
  opts: Record<string, unknown>,
  child: ChildSettings | undefined,
  log: Logger,
  gauges: readonly ProcessGauge[],
): Promise<void> {
  const { Worker } = await import('./worker.js');
  const barrier = child ? releaseBarrier() : undefined;
  const worker = new Worker(ctx, input, { receiveGate: barrier?.gate });
  const link = child && barrier ? await linkChild(ctx.events, worker, barrier, child, log, gauges) : undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    log.info({ signal, workerId: worker.id }, 'shutting down');
    void worker.stop(signal);
  };
  // A supervisor's child can get a signal twice: from the terminal or systemd (sent to the whole
  // process group or cgroup) and forwarded by its supervisor. stop() is idempotent, and the second
  // must not kill the process mid-drain (the supervisor escalates after the drain wait).
  onStopSignals(['SIGTERM', 'SIGINT'], onSignal, child !== undefined);
  // a supervisor's child keeps its metrics for the host's endpoint (host-link.ts) and binds no port
  const metrics =
    opts.metricsPort === undefined || child
      ? undefined
      : await (await import('../monitor/worker-metrics.js')).serveWorkerMetrics(ctx.events, {
          workerId: worker.id,
          port: opts.metricsPort as number,
          gauges,
        });
  log.info(
    { workerId: worker.id, concurrency: worker.options.concurrency, slot: child?.slot, metrics: metrics?.url },
    'worker started',
  );
  await worker.start();
  link?.close();
  await metrics?.close();
  ctx.close();
  log.info({ workerId: worker.id }, 'worker stopped');
  log.flush();
}

/** This process as the host's supervisor: N worker processes running this same command line. */
async function superviseHost(
  opts: Record<string, unknown>,
  options: WorkerOptions,
  processes: number,
  auto: boolean,
  log: Logger,
): Promise<number> {
  const host = {
    processes,
    cores: availableParallelism(),
    workerId: options.workerId,
    concurrency: opts.concurrency as number | undefined,
    transfers: opts.transfers as number | undefined,
    threads: opts.threads as number | undefined,
  };
  for (const raised of raisedTotals(host)) log.warn(raised);
  const children = planChildren(host);
  const grow = auto ? growthPolicy(host, opts.growAtCpu as number | undefined) : undefined;
  const supervisor = new Supervisor({
    workerId: options.workerId,
    children,
    grow,
    entry: process.argv[1]!,
    args: process.argv.slice(2),
    // Without syntax detection: Node 20.19+ parses every .js file of a package without a "type"
    // (the AWS SDK's CommonJS bundles) once more to find ESM syntax before loading it; every
    // dependency here says what it is. Measured, `worker --processes 1 --exit-when-idle` on an
    // empty queue, 5 runs each alternated: Node 20.20 0.91 -> 0.69 s of CPU per process start,
    // Node 24.22 (compile cache on) 0.51 -> 0.47 s. And Node 20's young generation on every Node
    // (shared/young-generation.ts). Given first, so an operator's own flags win.
    execArgv: childNodeArgs(process.execArgv, process.env.NODE_OPTIONS),
    env: process.env,
    shutdownDeadlineMs: options.shutdownDeadlineMs,
    shutdownForceMs: options.shutdownForceMs,
    metrics: opts.metricsPort !== undefined,
    log,
  });
  // bound before any child starts: a port in use stops the host before it takes work
  const metrics =
    opts.metricsPort === undefined
      ? undefined
      : await (await import('../monitor/host-metrics.js')).serveHostMetrics(supervisor, {
          port: opts.metricsPort as number,
        });
  const onSignal = (signal: NodeJS.Signals) => {
    log.info({ signal, workerId: options.workerId }, 'shutting down');
    void supervisor.stop(signal);
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  log.info(
    {
      workerId: options.workerId,
      processes,
      ...(grow
        ? { grow }
        : {
            shares: children.map((c) => ({ concurrency: c.concurrency, transfers: c.transfers, threads: c.threads })),
          }),
      metrics: metrics?.url,
    },
    'host supervisor started',
  );
  const code = await supervisor.run();
  await metrics?.close();
  log.info({ workerId: options.workerId, code }, 'host supervisor stopped');
  log.flush();
  return code;
}
