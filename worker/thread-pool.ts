/**
 * The worker's thread pool for CPU work (piscina). Created lazily: job kinds that never need CPU
 * threads (s3-sync streams and hashes inline) do not pay for idle threads. Tasks are compiled JS
 * modules under dist/worker/tasks/, addressed by file URL.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import type { TransferListItem } from 'node:worker_threads';

export interface ThreadPool {
  readonly threads: number;
  /** run `task` (a module in worker/tasks/, e.g. 'car-index') with `input` */
  run<T>(task: string, input: unknown, opts?: { signal?: AbortSignal; transferList?: TransferListItem[] }): Promise<T>;
  close(): Promise<void>;
}

export function defaultThreads(): number {
  return Math.max(1, availableParallelism());
}

/**
 * The compiled task module. Beside this file in dist/; when this module runs from source (vitest
 * transforms .ts in the main thread only, threads need JS), the build's copy in dist/ is used.
 */
export function taskUrl(task: string): string {
  const beside = new URL(`./tasks/${task}.js`, import.meta.url);
  if (existsSync(fileURLToPath(beside))) return beside.href;
  return new URL(`../dist/worker/tasks/${task}.js`, import.meta.url).href;
}

/** Async tasks one thread runs at once (see poolFor). */
export const TASKS_PER_THREAD = 8;

export function createThreadPool(threads = defaultThreads()): ThreadPool {
  const pools = new Map<string, Piscina>();
  const poolFor = (task: string) => {
    let pool = pools.get(task);
    if (!pool) {
      const filename = taskUrl(task);
      // Tasks may wait on I/O (car-index streams a shard from S3): several per thread keep
      // fetches in flight while another task hashes, instead of one fetch per thread at a time.
      pool = new Piscina({
        filename,
        minThreads: 0,
        maxThreads: threads,
        idleTimeout: 30_000,
        concurrentTasksPerWorker: TASKS_PER_THREAD,
      });
      pools.set(task, pool);
    }
    return pool;
  };
  return {
    threads,
    run<T>(task: string, input: unknown, opts: { signal?: AbortSignal; transferList?: TransferListItem[] } = {}) {
      return poolFor(task).run(input, { signal: opts.signal, transferList: opts.transferList as never }) as Promise<T>;
    },
    async close() {
      await Promise.all([...pools.values()].map((p) => p.destroy()));
      pools.clear();
    },
  };
}
