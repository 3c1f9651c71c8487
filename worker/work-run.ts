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
 */
import { availableParallelism } from 'node:os';
import type { Logger } from '../shared/log.js';
import { getRun } from '../state/runs.js';
import type { EngineContext } from './job-kind.js';
import { growthPolicy, resolveProcesses, shareOf } from './processes.js';
import { Worker } from './worker.js';

/** Why the worker stopped: the run left `running` (its row says how), a signal, or the caller's abort. */
export type WorkRunEnd = { stoppedBy: 'run' | 'abort' | NodeJS.Signals };

export interface WorkRunOptions {
  log: Logger;
  /** the long poll, in seconds (default WAIT_SECONDS) */
  waitSeconds?: number;
  /** stop on these signals (the CLI's SIGINT/SIGTERM); none: only the run's end stops it */
  signals?: readonly NodeJS.Signals[];
  /** stop when this aborts (the plan working beside it failed), draining like a signal */
  signal?: AbortSignal;
}

/** The long poll of a `--work` process, in seconds (a host's workers wait 20). */
export const WAIT_SECONDS = 1;

const ended = (state: string | undefined) => state !== 'running' && state !== 'planning';

export async function workRun(ctx: EngineContext, runId: string, opts: WorkRunOptions): Promise<WorkRunEnd> {
  if (opts.signal?.aborted) return { stoppedBy: 'abort' };
  // a run already over (nothing to copy, or planned and worked before) has nothing to wait for
  if (ended((await getRun(ctx.meta, runId))?.state)) return { stoppedBy: 'run' };
  // the counts of a host's first process under `convoy worker` (--processes auto): the host's
  // whole defaults, 8 items and 64 transfers per core, in this one event loop
  const cores = resolveProcesses('auto', availableParallelism());
  const counts = shareOf(growthPolicy({ processes: cores }), 1, 1);
  // Short polls, each let come back by itself when the run ends: an aborted poll stays open on
  // the server (SQS and fauxqs alike) and hides the next message sent (a next run's first, when
  // one is planned within the poll's wait) for the receive visibility, 10 s: measured, 3 runs of
  // 4 in a row with the default 20 s waits each took 10 s longer.
  const worker = new Worker(
    ctx,
    { runs: [runId], waitSeconds: opts.waitSeconds ?? WAIT_SECONDS, ...counts },
    { pollReturnsOnStop: true },
  );
  let end: WorkRunEnd | undefined;
  const stop = (why: WorkRunEnd) => {
    end ??= why;
    void worker.stop(why.stoppedBy === 'run' || why.stoppedBy === 'abort' ? undefined : why.stoppedBy);
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
  for (const s of opts.signals ?? []) process.once(s, onSignal);
  const onAbort = () => stop({ stoppedBy: 'abort' });
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  opts.log.info({ workerId: worker.id, runId, concurrency: worker.options.concurrency }, 'working the run here');
  try {
    await worker.start();
  } finally {
    for (const off of offs) off();
    for (const s of opts.signals ?? []) process.off(s, onSignal);
    opts.signal?.removeEventListener('abort', onAbort);
  }
  if (end) return end;
  // the loop ends only through stop() (no idle exit is set): a worker that stopped by itself is a bug
  throw new Error(`the worker working run ${runId} stopped before the run ended`);
}
