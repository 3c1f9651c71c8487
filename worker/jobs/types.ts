/**
 * What a job kind is: one concept with a spec, a planner, a handler and (optionally) a verifier,
 * registered once in ./registry.ts. The engine (coordinator and worker loop) knows nothing else
 * about a kind.
 */
import type { ZodType } from 'zod';
import type { ConvoyContext } from '../../shared/context.js';
import type { Logger } from '../../shared/log.js';
import type { ItemMetrics, ItemRow, NewItem } from '../../state/items.js';
import type { RunRow } from '../../state/runs.js';
import type { ThreadPool } from '../thread-pool.js';

export interface PlanContext {
  ctx: ConvoyContext;
  runId: string;
  log: Logger;
}

/** What a handler gets for one item. */
export interface ItemContext<Spec> {
  ctx: ConvoyContext;
  run: RunRow;
  spec: Spec;
  /** aborted when the lease is lost or the worker is shutting down: pass it to every I/O call */
  signal: AbortSignal;
  /** throws LeaseLostError unless this worker still holds the item: call before each side effect */
  assertLease(): void;
  log: Logger;
  /** the worker's piscina pool for CPU work */
  pool: ThreadPool;
  /** the worker's shared per-object concurrency limit (e.g. S3 transfers) */
  transfers: <T>(fn: () => Promise<T>) => Promise<T>;
  /** write child items and enqueue them (fleet-side expansion); idempotent by item id */
  addChildren(items: NewItem[]): Promise<number>;
  /** save progress for a resumable item (checked against the lease) */
  saveCheckpoint(checkpoint: unknown, partial?: Partial<ItemMetrics>): Promise<void>;
}

export type ItemOutcome = Partial<ItemMetrics> & { bytes: number; objects: number };

export interface VerifyOptions {
  reportPath: string;
  log: Logger;
}

export interface VerifySummary {
  /** counts by category: e.g. ok, missing, size_differs, checksum_differs, extra */
  counts: Record<string, number>;
  /** true when every compared thing matched */
  clean: boolean;
  reportPath: string;
  lines: string[];
}

export interface JobKind<Spec = unknown> {
  kind: string;
  /** the run spec as stored in the run row; validated once when planning and when a worker loads it */
  specSchema: ZodType<Spec>;
  /**
   * Check every input is usable before anything is written (InputError on bad input). May return
   * the spec with values resolved once for the whole run (e.g. the newest snapshot prefix); that
   * spec is what the run row stores.
   */
  preflight(spec: Spec, ctx: ConvoyContext): Promise<Spec | void>;
  /** stream the run's first items (a large group may be planned as items that add children) */
  plan(spec: Spec, pctx: PlanContext): AsyncIterable<NewItem>;
  handle(item: ItemRow, ictx: ItemContext<Spec>): Promise<ItemOutcome>;
  verify?(run: RunRow, spec: Spec, ctx: ConvoyContext, opts: VerifyOptions): Promise<VerifySummary>;
}
