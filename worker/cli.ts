/**
 * `convoy worker`: run one worker process until SIGTERM/SIGINT (or until idle with --exit-when-idle).
 */
import type { Command } from 'commander';
import { action } from '../coordinator/cli/errors.js';
import { configFrom, intOption } from '../coordinator/cli/globals.js';
import { createContext } from '../shared/context.js';
import { createLogger } from '../shared/log.js';
import { Worker } from './worker.js';

export interface WorkerCliHooks {
  /** runs before the loop starts (e.g. the uploads job plans a --customers-file) */
  beforeStart?: Array<(ctx: Awaited<ReturnType<typeof createContext>>, opts: Record<string, unknown>) => Promise<void>>;
}

export const workerCliHooks: WorkerCliHooks = { beforeStart: [] };

export function registerWorkerCommand(program: Command): Command {
  return program
    .command('worker')
    .description('take work items from the queue and do them (many in flight), until SIGTERM/SIGINT')
    .option('--concurrency <n>', 'items in flight', intOption('--concurrency'))
    .option('--transfers <n>', 'object transfers in flight across items', intOption('--transfers'))
    .option('--threads <n>', 'piscina threads for CPU work (default: cores)', intOption('--threads'))
    .option('--lease-ms <ms>', 'item lease length', intOption('--lease-ms'))
    .option('--max-attempts <n>', 'attempts before a retryable failure becomes failed', intOption('--max-attempts'))
    .option('--wait-seconds <s>', 'long-poll wait', intOption('--wait-seconds'))
    .option('--shutdown-deadline-ms <ms>', 'how long SIGTERM waits for in-flight items', intOption('--shutdown-deadline-ms'))
    .option('--backoff-base-ms <ms>', 'retry backoff scale', intOption('--backoff-base-ms'))
    .option('--exit-when-idle <ms>', 'exit after the queue has been empty this long', intOption('--exit-when-idle'))
    .option('--instance <label>', 'instance label shown by the monitor')
    .option('--run <id...>', 'only work items of these runs')
    .option('--worker-id <id>', 'worker id (default host-pid-random)')
    .option('--customers-file <file>', 'uploads job: plan these customers (idempotently) before working the shared queue')
    .option('--metrics-port <port>', 'serve /healthz and /metrics on 127.0.0.1:<port> (0 = any free port)', intOption('--metrics-port'))
    .action(
      action(async (opts: Record<string, unknown>, cmd: Command) => {
        const config = configFrom(cmd);
        const log = createLogger(config.logLevel);
        const ctx = await createContext(config, { log });
        const worker = new Worker(ctx, {
          concurrency: opts.concurrency as number | undefined,
          transfers: opts.transfers as number | undefined,
          threads: opts.threads as number | undefined,
          leaseMs: opts.leaseMs as number | undefined,
          maxAttempts: opts.maxAttempts as number | undefined,
          waitSeconds: opts.waitSeconds as number | undefined,
          shutdownDeadlineMs: opts.shutdownDeadlineMs as number | undefined,
          backoffBaseMs: opts.backoffBaseMs as number | undefined,
          exitWhenIdleMs: opts.exitWhenIdle as number | undefined,
          instance: opts.instance as string | undefined,
          runs: opts.run as string[] | undefined,
          workerId: opts.workerId as string | undefined,
        });
        for (const hook of workerCliHooks.beforeStart ?? []) await hook(ctx, opts);
        const onSignal = (signal: NodeJS.Signals) => {
          log.info({ signal }, 'shutting down');
          void worker.stop(signal);
        };
        process.once('SIGTERM', onSignal);
        process.once('SIGINT', onSignal);
        const metrics =
          opts.metricsPort === undefined ? undefined : await (await import('../monitor/worker-metrics.js')).serveWorkerMetrics(ctx.events, { workerId: worker.id, port: opts.metricsPort as number });
        log.info({ workerId: worker.id, concurrency: worker.options.concurrency, metrics: metrics?.url }, 'worker started');
        await worker.start();
        await metrics?.close();
        ctx.close();
        log.info({ workerId: worker.id }, 'worker stopped');
        log.flush();
      }),
    );
}
