/**
 * Worker options: every field documented with its default, validated once at start-up.
 * How a failed item is retried is not here: it is the run's (shared/retry-policy.ts), chosen at
 * plan time, so that every worker applies the same policy to the same run.
 */
import { availableParallelism, hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import * as z from 'zod';
import { formatZodIssues, RUN_STATE_TTL_MS } from '../shared/config.js';
import { InputError } from '../shared/errors.js';

/** The piscina threads a worker process runs by default: one per core. */
export function defaultThreads(): number {
  return Math.max(1, availableParallelism());
}

/** Items and transfers one worker process takes at once: by default, and at most. */
export const DEFAULT_CONCURRENCY = 8;
export const DEFAULT_TRANSFERS = 64;
export const MAX_CONCURRENCY = 1000;
export const MAX_TRANSFERS = 4096;

export const workerOptionsSchema = z
  .object({
    /** Unique id of this worker process. @defaultValue `<host>-<pid>-<random>` */
    workerId: z
      .string()
      .min(1)
      .default(() => `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`),
    /** Label of the launch (e.g. instance-3), shown by `monitor --instance`. */
    instance: z.string().optional(),
    /** Items worked on at once (async I/O). @defaultValue 8 */
    concurrency: z.number().int().min(1).max(MAX_CONCURRENCY).default(DEFAULT_CONCURRENCY),
    /** Object transfers in flight across all items (S3 copies). @defaultValue 64 */
    transfers: z.number().int().min(1).max(MAX_TRANSFERS).default(DEFAULT_TRANSFERS),
    /** piscina threads for CPU work. @defaultValue number of cores */
    threads: z.number().int().min(1).max(256).default(defaultThreads),
    /** Lease length; renewed every leaseMs/3 while working. @defaultValue 60000 */
    leaseMs: z.number().int().min(1000).default(60_000),
    /**
     * How long a receive hides its messages (s). What the worker still works on a third of the
     * way in is extended to a full lease then, in one batch (a message settled sooner needs no
     * extension); a receive whose answer is lost (a crash, an abort at shutdown) strands its
     * messages only this long. @defaultValue 10
     */
    receiveVisibilitySeconds: z.number().int().min(3).max(60).default(10),
    /** Long-poll wait per receive. @defaultValue 20 */
    waitSeconds: z.number().int().min(0).max(20).default(20),
    /** How long SIGTERM waits for in-flight items before releasing them. @defaultValue 30000 */
    shutdownDeadlineMs: z.number().int().min(0).default(30_000),
    /**
     * After the deadline, aborted items get this long to return before their items are released
     * anyway: a handler that ignores its AbortSignal must not hang shutdown. @defaultValue 5000
     */
    shutdownForceMs: z.number().int().min(0).default(5_000),
    /** Heartbeat row interval. @defaultValue 5000 */
    heartbeatMs: z.number().int().min(100).default(5_000),
    /**
     * How long the worker acts on a run row it has read (pause, resume and cancel reach it within
     * this); 0 reads the row for every message. @defaultValue 10000 (RUN_STATE_TTL_MS)
     */
    runStateTtlMs: z.number().int().min(0).default(RUN_STATE_TTL_MS),
    /** how long after an item ends its run is checked for completion (coalesces a run's tail) */
    runFinishDelayMs: z.number().int().min(0).default(500),
    /** Counter flush interval. @defaultValue 5000 */
    counterFlushMs: z.number().int().min(100).default(5_000),
    /** Exit after the queue has been empty this long (demo, tests, batch jobs); 0 = never. @defaultValue 0 */
    exitWhenIdleMs: z.number().int().min(0).default(0),
    /** Only work items of these runs (others are left in the queue). */
    runs: z.array(z.string()).optional(),
    /**
     * Set for the processes a host's supervisor starts (`convoy worker --processes N`): its pid,
     * this process's slot (1..N) and N, written to the heartbeat row so the monitor groups a
     * host's processes. Absent for a process started alone.
     */
    supervised: z
      .object({ pid: z.number().int().min(1), slot: z.number().int().min(1), processes: z.number().int().min(1) })
      .strict()
      .optional(),
  })
  .strict();

export type WorkerOptions = z.infer<typeof workerOptionsSchema>;
export type WorkerOptionsInput = z.input<typeof workerOptionsSchema>;

export function parseWorkerOptions(input: WorkerOptionsInput): WorkerOptions {
  const parsed = workerOptionsSchema.safeParse(input);
  if (!parsed.success) throw new InputError(`invalid worker options:\n${formatZodIssues(parsed.error)}`);
  return parsed.data;
}
