/**
 * `convoy worker`: run one worker process until SIGTERM/SIGINT (or until idle with --exit-when-idle).
 * The job kinds add their own options and start hooks (the uploads kind's --customers-file): the
 * registry hands them in, and every hook runs, checking its options, before the loop starts.
 */
import { Option, type Command } from 'commander';
import { action } from '../coordinator/cli/errors.js';
import { configFrom, intOption, runIdsOption } from '../coordinator/cli/globals.js';
import { createContext } from '../shared/context.js';
import { InputError } from '../shared/errors.js';
import { createLogger, resolveLogFormat } from '../shared/log.js';
import { withKinds, type KindRegistry } from './job-kind.js';
import { Worker } from './worker.js';

/** Worker flags of earlier releases that are now the run's (`convoy plan`). */
const MOVED_TO_PLAN = ['--max-attempts', '--backoff-base-ms', '--backoff-cap-ms'] as const;
const camelCase = (flag: string) => flag.slice(2).replace(/-(\w)/g, (_m, c: string) => c.toUpperCase());

export function registerWorkerCommand(program: Command, kinds: KindRegistry): Command {
  const command = program.command('worker');
  command
    .description('take work items from the queue and do them (many in flight), until SIGTERM/SIGINT')
    .option('--concurrency <n>', 'items in flight', intOption('--concurrency'))
    .option('--transfers <n>', 'object transfers in flight across items', intOption('--transfers'))
    .option('--threads <n>', 'piscina threads for CPU work (default: cores)', intOption('--threads'))
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
    .option('--worker-id <id>', 'worker id (default host-pid-random)')
    .option(
      '--metrics-port <port>',
      'serve /healthz and /metrics on 127.0.0.1:<port> (0 = any free port)',
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
      const config = configFrom(cmd);
      const log = createLogger(config.logLevel, {}, config.logFormat ?? resolveLogFormat());
      const ctx = withKinds(await createContext(config, { log }), kinds);
      // The kinds' start hooks check their options (a missing customers file exits 2) and act
      // on them before this process takes any work or writes its heartbeat.
      try {
        for (const plugin of kinds.plugins) await plugin.beforeWorkerStart?.(ctx, opts);
      } catch (err) {
        ctx.close();
        throw err;
      }
      const worker = new Worker(ctx, {
        concurrency: opts.concurrency as number | undefined,
        transfers: opts.transfers as number | undefined,
        threads: opts.threads as number | undefined,
        leaseMs: opts.leaseMs as number | undefined,
        waitSeconds: opts.waitSeconds as number | undefined,
        shutdownDeadlineMs: opts.shutdownDeadlineMs as number | undefined,
        exitWhenIdleMs: opts.exitWhenIdle as number | undefined,
        instance: opts.instance as string | undefined,
        runs: opts.run as string[] | undefined,
        workerId: opts.workerId as string | undefined,
      });
      const onSignal = (signal: NodeJS.Signals) => {
        log.info({ signal }, 'shutting down');
        void worker.stop(signal);
      };
      process.once('SIGTERM', onSignal);
      process.once('SIGINT', onSignal);
      const metrics =
        opts.metricsPort === undefined
          ? undefined
          : await (await import('../monitor/worker-metrics.js')).serveWorkerMetrics(ctx.events, {
              workerId: worker.id,
              port: opts.metricsPort as number,
            });
      log.info(
        { workerId: worker.id, concurrency: worker.options.concurrency, metrics: metrics?.url },
        'worker started',
      );
      await worker.start();
      await metrics?.close();
      ctx.close();
      log.info({ workerId: worker.id }, 'worker stopped');
      log.flush();
    }),
  );
  for (const plugin of kinds.plugins) for (const option of plugin.workerOptions?.() ?? []) command.addOption(option);
  return command;
}
