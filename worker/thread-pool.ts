/**
 * The worker's thread pool for CPU work (piscina). Created lazily: job kinds that never need CPU
 * threads (s3-sync streams and hashes inline) do not pay for idle threads. A task is a compiled JS
 * module whose default export the threads run, addressed by its URL: each job kind owns its tasks
 * (the uploads kind's CAR indexer is worker/jobs/uploads/car-index-task.ts), so the pool knows
 * none of them.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Piscina } from 'piscina';
import { defaultThreads } from './options.js';
import type { TransferListItem } from 'node:worker_threads';

export interface ThreadPool {
  readonly threads: number;
  /** run `task` (a task module's URL, e.g. the uploads kind's CAR_INDEX_TASK) with `input` */
  run<T>(task: URL, input: unknown, opts?: { signal?: AbortSignal; transferList?: TransferListItem[] }): Promise<T>;
  close(): Promise<void>;
}

/**
 * The task module's file, checked to exist: kinds address their tasks in dist/ (`builtUrl`,
 * threads need JS even when the caller runs from source under vitest), so a missing build says so
 * here rather than as piscina's failure to load a thread.
 */
function taskFile(task: URL): string {
  const file = fileURLToPath(task);
  if (!existsSync(file)) throw new Error(`thread task ${file} is not built (run npm run build)`);
  return task.href;
}

/** Async tasks one thread runs at once (see poolFor). */
export const TASKS_PER_THREAD = 8;

/**
 * piscina itself, imported with the first task: a worker process whose kinds never run one
 * (s3-sync, the table kinds) does not load it at every start (~15-25 ms of CPU, its 14 files).
 */
let piscinaClass: Promise<typeof Piscina> | undefined;

export function createThreadPool(threads = defaultThreads()): ThreadPool {
  const pools = new Map<string, Promise<Piscina>>();
  const poolFor = (task: URL) => {
    let pool = pools.get(task.href);
    if (!pool) {
      const filename = taskFile(task);
      piscinaClass ??= import('piscina').then((m) => m.Piscina);
      pool = piscinaClass.then(
        (Piscina) =>
          // Tasks may wait on I/O (car-index streams a shard from S3): several per thread keep
          // fetches in flight while another task hashes, instead of one fetch per thread at a time.
          new Piscina({
            filename,
            minThreads: 0,
            maxThreads: threads,
            idleTimeout: 30_000,
            concurrentTasksPerWorker: TASKS_PER_THREAD,
          }),
      );
      pools.set(task.href, pool);
    }
    return pool;
  };
  return {
    threads,
    async run<T>(task: URL, input: unknown, opts: { signal?: AbortSignal; transferList?: TransferListItem[] } = {}) {
      const pool = await poolFor(task);
      return (await pool.run(input, { signal: opts.signal, transferList: opts.transferList as never })) as T;
    },
    async close() {
      await Promise.all([...pools.values()].map(async (p) => (await p).destroy()));
      pools.clear();
    },
  };
}
