/**
 * One run worked to its end in this process: what `convoy plan <kind> ... --work` does after
 * planning (coordinator/cli/work-here.ts). A one-host run in one command, as `rclone copy` is,
 * without a second process to start: the plan's process already holds the clients and the
 * config, and a second Node process with the same modules costs ~0.3 s of CPU on two cores
 * (bench:start-floor), which is most of a small run's CPU (bench:s3 (a) and (c)).
 *
 * Nothing about the run changes: its items are in the queue and the table as for any run; this
 * process is one more worker that takes only this run's items (`runs: [runId]`), with the same
 * claims, leases, retries and finish in the write path. So `convoy worker` processes started
 * elsewhere help with the same run, and a crash of this process leaves the run to them or to
 * `convoy worker --run <id>` (and `convoy reconcile`).
 *
 * It stops when the run leaves `running`: finished by this worker's own last transition
 * ('run:finished'), paused by its failure limit ('run:paused:max-failed'), or finished, paused or
 * cancelled by someone else (seen on an empty receive, which reads the run row); or on
 * SIGINT/SIGTERM, after draining like any worker.
 *
 * Every core of the host (#12): one event loop signs, sends and parses every request, so a run
 * with more to do than one core can do gets more processes, as `convoy worker --processes auto`
 * does and by the same policy (./processes.ts GrowthPolicy): this process is the host's slot 1,
 * and when every process of the host has been CPU-bound over a sample window (3 s) a supervisor
 * here (./supervisor.ts, `local`) starts as many `convoy worker --run <id>` children again, up to
 * one per core, and divides the host's counts over them. A run over in less than a window (most
 * small ones) never pays for a second process's start (~0.3-0.5 s of CPU); a long one on 2 cores
 * gets both. When the run ends the children drain with this process (nothing left in flight).
 */
import { availableParallelism } from 'node:os';
import type { Logger } from '../shared/log.js';
import { onStopSignals, relaunched } from '../shared/signals.js';
import { getRun } from '../state/runs.js';
import type { EngineContext } from './job-kind.js';
import {
  childNodeArgs,
  type GrowthPolicy,
  growthPolicy,
  planChildren,
  resolveProcesses,
  shareOf,
} from './processes.js';
import { Supervisor } from './supervisor.js';
import { Worker } from './worker.js';

/** Why the worker stopped: the run left `running` (its row says how), a signal, or the caller's abort. */
export type WorkRunEnd = { stoppedBy: 'run' | 'abort' | NodeJS.Signals };

export interface WorkRunOptions {
  log: Logger;
  /** the receive's wait, in seconds (default WAIT_SECONDS) */
  waitSeconds?: number;
  /** stop on these signals (the CLI's SIGINT/SIGTERM); none: only the run's end stops it */
  signals?: readonly NodeJS.Signals[];
  /** stop when this aborts (the plan working beside it failed), draining like a signal */
  signal?: AbortSignal;
  /** how more processes are started when this one is CPU-bound; none: this process alone */
  helpers?: HelperProcesses;
}

/** The `convoy worker` children of a `--work` host (see the top of this file). */
export interface HelperProcesses {
  /** the CLI's entry script */
  entry: string;
  /** the program's own options for them (--config, --state-dir, ...), before `worker` */
  globalArgs: string[];
  /** the CPU (a share of one core) every process must use over a window before more start */
  atCores?: number;
}

/**
 * The receive's wait of a `--work` process, in seconds: none (a host's workers wait 20). An
 * aborted poll stays open on the server (SQS and fauxqs alike) and hides the next message sent (a
 * next run's first, when one is planned within the poll's wait) for the receive visibility, 10 s:
 * measured, 3 runs of 4 in a row with 20 s waits each took 10 s longer. So the run's end lets its
 * poll come back by itself (`pollReturnsOnStop`), which a short poll does at once, where a 1 s one
 * kept the process 0.2-0.9 s after the run's last item (bench:s3 (c), 2,000 objects in ~2.5 s).
 * Between empty receives the worker sleeps 200 ms: a few requests a second, only while the queue
 * has nothing for it.
 */
export const WAIT_SECONDS = 0;

const ended = (state: string | undefined) => state !== 'running' && state !== 'planning';

export async function workRun(ctx: EngineContext, runId: string, opts: WorkRunOptions): Promise<WorkRunEnd> {
  if (opts.signal?.aborted) return { stoppedBy: 'abort' };
  // a run already over (nothing to copy, or planned and worked before) has nothing to wait for
  if (ended((await getRun(ctx.meta, runId))?.state)) return { stoppedBy: 'run' };
  // the counts of a host's first process under `convoy worker` (--processes auto): the host's
  // whole defaults, 8 items and 64 transfers per core, in this one event loop
  const cores = resolveProcesses('auto', availableParallelism());
  const policy = growthPolicy({ processes: cores }, opts.helpers?.atCores);
  const counts = shareOf(policy, 1, 1);
  const grows = opts.helpers !== undefined && cores > 1;
  // short polls, each let come back by itself when the run ends (WAIT_SECONDS)
  const worker = new Worker(
    ctx,
    {
      runs: [runId],
      waitSeconds: opts.waitSeconds ?? WAIT_SECONDS,
      ...counts,
      // a host's slot 1 in its heartbeat, so the monitor shows the processes it starts with it
      ...(grows && { supervised: { pid: process.pid, slot: 1, processes: 1 } }),
    },
    { pollReturnsOnStop: true },
  );
  const host = grows ? helperHost(worker, runId, cores, policy, opts.helpers!, opts.log) : undefined;
  const hostDone = host?.run();
  let end: WorkRunEnd | undefined;
  const stop = (why: WorkRunEnd) => {
    end ??= why;
    const signal = why.stoppedBy === 'run' || why.stoppedBy === 'abort' ? undefined : why.stoppedBy;
    void worker.stop(signal);
    void host?.stop(signal ?? 'SIGTERM');
  };
  let reading = false;
  const offs = [
    ctx.events.on('run:finished', (e) => e.runId === runId && stop({ stoppedBy: 'run' })),
    ctx.events.on('run:paused:max-failed', (e) => e.runId === runId && stop({ stoppedBy: 'run' })),
    // nothing to receive: the run may have been ended elsewhere (another worker took its last
    // item, an operator paused or cancelled it); one read of its row says
    ctx.events.on('worker:receive:empty', () => {
      if (reading || end || worker.inFlightCount > 0) return;
      reading = true;
      void getRun(ctx.meta, runId)
        .then((run) => {
          if (ended(run?.state)) stop({ stoppedBy: 'run' });
        })
        .catch(() => undefined)
        .finally(() => {
          reading = false;
        });
    }),
  ];
  const onSignal = (signal: NodeJS.Signals) => {
    opts.log.info({ signal, runId }, 'stopping: items in flight finish or are released for other workers');
    stop({ stoppedBy: signal });
  };
  // a relaunched `plan --work` (coordinator/cli/relaunch.ts) can get each signal twice
  const offSignals = onStopSignals(opts.signals ?? [], onSignal, relaunched());
  const onAbort = () => stop({ stoppedBy: 'abort' });
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  opts.log.info({ workerId: worker.id, runId, concurrency: worker.options.concurrency }, 'working the run here');
  try {
    await worker.start();
    // the children drain too (the run is over, or they release their items); a crashed one is
    // restarted by the supervisor meanwhile, so its exit code says nothing this one needs
    void host?.stop('SIGTERM');
    await hostDone;
  } finally {
    for (const off of offs) off();
    offSignals();
    opts.signal?.removeEventListener('abort', onAbort);
  }
  if (end) return end;
  // the loop ends only through stop() (no idle exit is set): a worker that stopped by itself is a bug
  throw new Error(`the worker working run ${runId} stopped before the run ended`);
}

/**
 * The supervisor of this host's other processes: slots 2..cores, all on standby until this
 * process and every one started are CPU-bound; each runs `convoy worker --run <id>` with short
 * polls (its end then waits for no long poll, see WAIT_SECONDS).
 */
function helperHost(
  worker: Worker,
  runId: string,
  cores: number,
  policy: GrowthPolicy,
  helpers: HelperProcesses,
  log: Logger,
): Supervisor {
  return new Supervisor({
    workerId: worker.id,
    children: planChildren({ processes: cores, cores, workerId: worker.id }).slice(1),
    grow: policy,
    local: {
      cpuMicros: () => {
        const used = process.cpuUsage();
        return used.user + used.system;
      },
      resize: (shares) => {
        log.info({ workerId: worker.id, ...shares }, 'host counts divided again');
        worker.resize(shares);
      },
    },
    entry: helpers.entry,
    args: [...helpers.globalArgs, 'worker', '--run', runId, '--wait-seconds', String(WAIT_SECONDS)],
    execArgv: childNodeArgs(process.execArgv, process.env.NODE_OPTIONS),
    env: process.env,
    shutdownDeadlineMs: worker.options.shutdownDeadlineMs,
    shutdownForceMs: worker.options.shutdownForceMs,
    log,
  });
}
