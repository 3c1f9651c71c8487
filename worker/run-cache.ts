/**
 * The runs a worker has seen: each run row with its job kind and parsed spec, read once per
 * `runStateTtlMs` (a pause, resume or cancel reaches every worker within that time), so a worker
 * does one GetItem per run per period rather than one per message.
 */
import { classifyError } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import { DEFAULT_RETRY_POLICY, retryPolicyOf, type RetryPolicy } from '../shared/retry-policy.js';
import { getRun, type RunRow } from '../state/runs.js';
import type { EngineContext, JobKind } from './job-kind.js';

export interface LoadedRun {
  run: RunRow;
  kind: JobKind<any>;
  spec: unknown;
  loadedAtMs: number;
}

export class RunCache {
  private readonly runs = new Map<string, LoadedRun>();

  constructor(
    private readonly ctx: EngineContext,
    private readonly ttlMs: number,
    /** the worker's logger (says when a tune reaches it) */
    private readonly log: Logger = ctx.log,
  ) {}

  /** The run, its kind and spec; `fresh` reads the row again whatever its age. */
  async load(runId: string, opts: { fresh?: boolean } = {}): Promise<LoadedRun> {
    const cached = this.runs.get(runId);
    if (cached && !opts.fresh && this.ctx.now() - cached.loadedAtMs < this.ttlMs) return cached;
    const run = await getRun(this.ctx.meta, runId);
    if (!run) throw classifyError(new Error(`run ${runId} not found`));
    const kind = await this.ctx.kinds.job(run.kind);
    // The spec never changes once planned: parse it once.
    const spec = cached?.spec ?? kind.specSchema.parse(run.spec);
    const entry = { run, kind, spec, loadedAtMs: this.ctx.now() };
    this.runs.set(runId, entry);
    if ((run.tuneVersion ?? 0) !== (cached?.run.tuneVersion ?? 0)) this.noteTuned(run);
    return entry;
  }

  /** A new tune of the run reached this worker (`convoy tune`): say what it applies from now on. */
  private noteTuned(run: RunRow): void {
    const tuning = { ...run.tuning };
    this.log.info({ runId: run.runId, tuneVersion: run.tuneVersion, tuning }, 'run settings applied');
    this.ctx.events.safeEmit('run:tuned', { runId: run.runId, tuneVersion: run.tuneVersion ?? 0, tuning });
  }

  /**
   * Whether the run is paused. The cached row is trusted only to say "not paused"; "paused" is
   * confirmed with a fresh (consistent) read, since this message may have been re-sent by a
   * resume after the row was cached, and dropping it then would strand the item until the next
   * reconcile. A failure to read says "not paused": the claim path then decides.
   */
  async isPaused(runId: string): Promise<boolean> {
    try {
      if ((await this.load(runId)).run.state !== 'paused') return false;
      return (await this.load(runId, { fresh: true })).run.state === 'paused';
    } catch {
      return false;
    }
  }

  /** The run's retry policy as last read (the default if the run could not be read). */
  retryPolicy(runId: string): RetryPolicy {
    const run = this.runs.get(runId)?.run;
    return run ? retryPolicyOf(run) : DEFAULT_RETRY_POLICY;
  }

  /** The runs seen so far (the heartbeat row lists them). */
  runIds(): string[] {
    return [...this.runs.keys()];
  }
}
