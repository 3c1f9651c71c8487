/**
 * Work a planned run to its end with one in-process worker (the engine's own Worker, not the CLI):
 * for tests whose subject is a job's behaviour against a backend, not the operator's command line.
 */
import { runStatus, type RunStatus } from '../../coordinator/status.js';
import { Worker } from '../../worker/worker.js';
import { waitUntil, type TestEnv } from './stack.js';

export async function workUntilDone(
  env: TestEnv,
  runId: string,
  opts: { concurrency?: number; transfers?: number; leaseMs?: number; timeoutMs?: number } = {},
): Promise<RunStatus> {
  const worker = new Worker(env.ctx, {
    concurrency: opts.concurrency ?? 4,
    transfers: opts.transfers ?? 8,
    waitSeconds: 0,
    threads: 1,
    counterFlushMs: 100,
    heartbeatMs: 500,
    leaseMs: opts.leaseMs ?? 30_000,
  });
  const loop = worker.start();
  try {
    return await waitUntil(
      async () => {
        const s = await runStatus(env.ctx, runId);
        return s.run.state === 'done' ? s : undefined;
      },
      { timeoutMs: opts.timeoutMs ?? 120_000, what: `run ${runId} done` },
    );
  } finally {
    await worker.stop();
    await loop;
  }
}
