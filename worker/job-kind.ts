/**
 * What a job kind is, as the engine sees it. Two halves:
 *  - `JobKind`: the runtime (spec schema, planner, handler, verifier), what planning and the
 *    worker loop call;
 *  - `KindPlugin`: the declaration of everything the kind adds to convoy (its commands, its
 *    worker options and start hooks, how the monitor names its groups), with the runtime behind
 *    a lazy `load()` so a process pays only for the kinds it runs (the uploads kind's UCAN stack,
 *    the table kinds' PostgreSQL driver).
 * The engine never imports a kind: the composition root (coordinator/cli/main.ts) builds a
 * `KindRegistry` from a list of plugins and hands it in. Nothing registers by import side effect.
 */
import type { Command, Option } from 'commander';
import type { ZodType } from 'zod';
import type { ConvoyContext } from '../shared/context.js';
import { InputError } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import type { ItemMetrics, ItemRow, NewItem } from '../state/item-row.js';
import type { RateLimitName } from '../state/run-tuning.js';
import type { RunRow } from '../state/runs.js';
import type { ThreadPool } from './thread-pool.js';

export interface PlanContext {
  ctx: ConvoyContext;
  runId: string;
  log: Logger;
}

/** What a handler gets for one item. */
export interface ItemContext<Spec> {
  ctx: ConvoyContext;
  /** the run row as read when the item was claimed */
  run: RunRow;
  /**
   * The run row as the worker knows it now (re-read every RUN_STATE_TTL_MS): what a long item
   * checks for settings tuned while it runs (`convoy tune --bwlimit/--tpslimit`).
   */
  currentRun(): Promise<RunRow>;
  spec: Spec;
  /**
   * The hint the item's message carried (NewItem.hint), when this delivery has one: advisory,
   * written by the kind when it cut the item, possibly stale; a handler checks it and may ignore it.
   */
  hint?: string;
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
  /** accept objects the destination has and the source does not (s3-sync without --delete) */
  allowExtra?: boolean;
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

/**
 * A file of its own that each instance of a fleet (infra/cdk) gives `convoy worker`: instance k
 * of the fleet fetches `instance-<k>.json` from the fleet's instance files source (written for N
 * instances by a tool of the kind, e.g. `convoy distribute --instances N`) and starts the worker
 * with `<workerOption> <file>`.
 */
/** A gauge a kind adds to a worker process's /metrics (KindPlugin.processGauges). */
export interface ProcessGauge {
  /** a Prometheus metric name, `convoy_worker_<kind>_...` */
  readonly name: string;
  readonly help: string;
  value(): number;
}

export interface InstanceFiles {
  /** the `convoy worker` option that takes the file (one of the kind's `workerOptions`), e.g. '--customers-file' */
  readonly workerOption: string;
  /** what a file holds, one lower-case word: names the file on the instance and in its logs, e.g. 'customers' */
  readonly describe: string;
}

/** A command path a plugin adds to the CLI, e.g. ['distribute'] or ['local', 'seed']. */
export type CommandPath = readonly string[];

export interface KindPlugin<Spec = any> {
  /** the kind's name: `convoy plan <name>`, and the `kind` of its run rows */
  readonly name: string;
  /** the runtime half, imported on first use */
  load(): Promise<JobKind<Spec>>;
  /** adds `convoy plan <name>`; imported only when that command (or help) runs */
  planCommand?(): Promise<(plan: Command) => void>;
  /**
   * The kind's other commands: the command paths it owns (so the CLI imports the registrar only
   * when one of them runs) and the registrar itself.
   */
  commands?: { paths: CommandPath[]; register(): Promise<(program: Command) => void> };
  /** options the kind adds to `convoy worker` (declared here, so `worker --help` lists them) */
  workerOptions?(): Option[];
  /**
   * Runs before the worker loop starts, with the parsed `convoy worker` options: checks the
   * kind's options (an InputError exits 2 before anything is written) and acts on them (the
   * uploads kind plans its --customers-file). Once per host: with several processes it runs in
   * their supervisor, before any of them starts, so it must not set up per-process state.
   * `engine()` builds the context on first use: a supervisor that only starts its processes
   * never loads the AWS clients (a second of start-up CPU on a small host) unless a hook asks.
   */
  beforeWorkerStart?(engine: () => Promise<EngineContext>, opts: Record<string, unknown>): Promise<void>;
  /**
   * Runs in every process that works items (a lone `convoy worker`, or each of a supervisor's
   * children), after the host's `beforeWorkerStart`, with the same options: applies the kind's
   * worker options to this process (a setting its handler reads). Must not write: it runs once per
   * process, where `beforeWorkerStart` runs once per host.
   */
  configureWorkerProcess?(opts: Record<string, unknown>): void;
  /**
   * Gauges of state the kind keeps per worker process (s3-sync's bytes streaming through it), read
   * at each scrape of `/metrics` in every process that works items (a host's endpoint sums its
   * processes'). Reads only: a gauge's `value` must not write or wait.
   */
  processGauges?(): ProcessGauge[];
  /**
   * Services the kind needs beside the embedded local stack (the uploads kind's UCAN peers): a
   * module URL exporting `startLocalServices` (infra/local/services.ts), started by `local up`.
   */
  localServices?: { module: string };
  /**
   * How the monitor names the parts of an item's `group`, split at '/': e.g. ['customer', 'space'].
   * Each name is a `convoy monitor` filter option (`--customer`) and a query parameter of the
   * API's failed items; lower-case words, not `group` (the whole-group filter every kind has).
   */
  groupParts?: readonly string[];
  /**
   * The fleet-wide rate limits the kind's handler honours, each with the spec field holding its
   * planned value (s3-sync: `{ bwlimit: 'bwlimitBytesPerSecond', tpslimit: 'tpsLimit' }`). Only
   * these can be tuned on its runs (`convoy tune --bwlimit/--tpslimit`); the handler applies
   * `effectiveLimit` (state/run-tuning.ts) of the tuned and planned values.
   */
  rateLimits?: Partial<Record<RateLimitName, string>>;
  /**
   * The run's spec options worth showing beside its live settings (`convoy status`, the API's run
   * detail, the monitor), one short line; pure and light (the plugin object is loaded eagerly)
   */
  describeSpec?(spec: Spec): string | undefined;
  /** a file per fleet instance that `convoy worker` takes (the uploads kind: each instance's customers) */
  instanceFiles?: InstanceFiles;
}

/** The kinds a process knows, by name; runtimes loaded once, on first use. */
export class KindRegistry {
  private readonly byName = new Map<string, KindPlugin>();
  private readonly loaded = new Map<string, Promise<JobKind<any>>>();

  constructor(plugins: readonly KindPlugin[]) {
    for (const p of plugins) {
      if (this.byName.has(p.name)) throw new Error(`two job kinds are named ${p.name}`);
      this.byName.set(p.name, p);
    }
  }

  get plugins(): KindPlugin[] {
    return [...this.byName.values()];
  }

  /** The part names a kind declares for its groups; undefined when it declares none or is unknown here. */
  groupParts(name: string): readonly string[] | undefined {
    return this.byName.get(name)?.groupParts;
  }

  plugin(name: string): KindPlugin {
    const p = this.byName.get(name);
    if (!p)
      throw new InputError(
        `unknown job kind "${name}"; known kinds: ${[...this.byName.keys()].join(', ') || '(none)'}`,
      );
    return p;
  }

  /** The runtime of a kind (a run row's `kind`), imported on first use. */
  job(name: string): Promise<JobKind<any>> {
    let job = this.loaded.get(name);
    if (!job) {
      const plugin = this.plugin(name);
      job = plugin.load().then((j) => {
        if (j.kind !== plugin.name) throw new Error(`plugin ${plugin.name} loaded a job kind named ${j.kind}`);
        return j;
      });
      this.loaded.set(name, job);
    }
    return job;
  }

  /** A registry with more kinds (tests add theirs to the built-in ones). */
  with(plugins: readonly KindPlugin[]): KindRegistry {
    return new KindRegistry([...this.plugins, ...plugins]);
  }
}

/** The context of the engine: the shared context plus the kinds it can run. */
export interface EngineContext extends ConvoyContext {
  kinds: KindRegistry;
}

export function withKinds(ctx: ConvoyContext, kinds: KindRegistry): EngineContext {
  return Object.assign(ctx, { kinds });
}

/** A plugin for a kind whose runtime is already at hand (tests, small kinds): no commands. */
export function pluginOf<Spec>(
  job: JobKind<Spec>,
  extra: Partial<Omit<KindPlugin<Spec>, 'name' | 'load'>> = {},
): KindPlugin<Spec> {
  return { name: job.kind, load: async () => job, ...extra };
}
