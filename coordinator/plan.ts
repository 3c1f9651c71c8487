/**
 * Planning: expand a spec into items, write their rows and enqueue their messages.
 *
 * Streams: the job kind's planner yields items; they are written in chunks (BatchWriteItem 25,
 * UnprocessedItems retried) and sent (SendMessageBatch 10, 16 batches in flight) while the
 * planner keeps listing, so memory stays flat for any size.
 * Idempotent: the run row is created by a conditional put. A run whose plan completed is not
 * planned again; planning an existing run id with a different spec is refused (exit 2) with the
 * differences. A run left in `planning` (a crashed plan) is resumed: existing rows are kept
 * (read before the batch write), every item of the plan is re-sent (duplicates are harmless: a
 * claim on a done or held item does nothing), and the run's item counts are recounted from the
 * rows (the crash may have come between a batch write and its count).
 * The run's retry policy (shared/retry-policy.ts) is stored on the row with the spec, and kept
 * the same way: a re-plan that asks for another policy is refused.
 */
import { formatZodIssues } from '../shared/config.js';
import { classifyError, InputError } from '../shared/errors.js';
import { retryPolicyOf, retryPolicySchema, type RetryPolicy, type RetryPolicyInput } from '../shared/retry-policy.js';
import { putItems } from '../state/item-bulk.js';
import type { NewItem } from '../state/item-row.js';
import { applyRunTransition, finishRunIfComplete, markPlanComplete } from '../state/run-lifecycle.js';
import { addPlannedItems, createRun, recountPlannedItems, type RunRow } from '../state/runs.js';
import type { EngineContext, JobKind } from '../worker/job-kind.js';
import { canonical, specDifferences } from './spec-diff.js';

export interface PlanResult {
  run: RunRow;
  /** false when the run already existed and its plan had completed: nothing was done */
  planned: boolean;
  /** items this call wrote (new rows) */
  itemsWritten: number;
  /** items this call enqueued */
  itemsEnqueued: number;
}

export function newRunId(kind: string, now = new Date()): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `${kind}-${stamp}-${Math.random().toString(36).slice(2, 6)}`;
}

/** Validate a spec against its kind's schema with a clear message. */
export function parseSpec<Spec>(job: JobKind<Spec>, raw: unknown): Spec {
  const parsed = job.specSchema.safeParse(raw);
  if (!parsed.success) throw new InputError(`invalid ${job.kind} spec:\n${formatZodIssues(parsed.error)}`);
  return parsed.data;
}

/** Validate a retry policy (the plan's --max-attempts / --backoff-* options) with a clear message. */
export function parseRetryPolicy(raw: RetryPolicyInput | undefined): RetryPolicy {
  const parsed = retryPolicySchema.safeParse(raw ?? {});
  if (parsed.success) return parsed.data;
  const flag = (key: PropertyKey | undefined) => `--${String(key).replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
  throw new InputError(
    `invalid retry policy: ${parsed.error.issues.map((i) => `${flag(i.path[0])} (${String(i.path[0])}): ${i.message}`).join('; ')}`,
  );
}

export async function planRun(
  ctx: EngineContext,
  args: {
    kind: string;
    runId: string;
    spec: unknown;
    /** undefined: the defaults for a new run, whatever the run has for an existing one */
    retry?: RetryPolicyInput;
    chunkSize?: number;
  },
): Promise<PlanResult> {
  const job = await ctx.kinds.job(args.kind);
  const retry = parseRetryPolicy(args.retry);
  const parsed = parseSpec(job, args.spec);
  // Everything that can be wrong with the inputs is found here, before anything is written.
  const spec = (await job.preflight(parsed, ctx)) ?? parsed;

  const { created, run } = await createRun(ctx.meta, {
    runId: args.runId,
    kind: args.kind,
    spec: spec as Record<string, unknown>,
    retry,
  });
  if (!created) {
    if (run.kind !== args.kind)
      throw new InputError(`run ${args.runId} exists with kind ${run.kind}, not ${args.kind}; choose another --run id`);
    if (run.state === 'cancelled')
      throw new InputError(`run ${args.runId} was cancelled; a cancelled run is final: plan a new --run id`);
    // A finished plan keeps its spec. (A plan that did not complete is resumed with the spec
    // given now: resuming is how an operator finishes a crashed or interrupted plan.)
    if (run.planComplete && canonical(run.spec) !== canonical(spec)) {
      const diff = specDifferences(run.spec, spec);
      throw new InputError(
        `run ${args.runId} was planned with a different spec:\n  ${diff.join('\n  ')}\n` +
          `A run keeps the spec it was planned with. Plan the new spec as a new run (another --run id, or none for a generated one); ` +
          `the first run's finished items stay as they are.`,
      );
    }
    if (args.retry !== undefined && canonical(retryPolicyOf(run)) !== canonical(retry)) {
      const diff = specDifferences(retryPolicyOf(run), retry);
      throw new InputError(
        `run ${args.runId} was planned with another retry policy:\n  ${diff.join('\n  ')}\n` +
          `A run keeps the policy it was planned with, so that every worker applies the same one. ` +
          `Plan again without --max-attempts/--backoff-base-ms/--backoff-cap-ms/--max-failed (convoy tune --max-failed changes the limit of a running run), or as a new run.`,
      );
    }
    if (run.planComplete) {
      ctx.log.info({ runId: args.runId }, 'run already planned; nothing to do');
      return { run, planned: false, itemsWritten: 0, itemsEnqueued: 0 };
    }
    if (run.state === 'failed') await applyRunTransition(ctx.meta, args.runId, 'replan');
    ctx.log.info({ runId: args.runId }, 'resuming an unfinished plan');
  }
  const log = ctx.log.child({ runId: args.runId });
  const chunkSize = args.chunkSize ?? 500;
  let written = 0;
  let enqueued = 0;
  let chunk: NewItem[] = [];
  const inFlight = new Set<Promise<void>>();
  const flush = async (items: NewItem[]) => {
    const fresh = await putItems(ctx.items, args.runId, items, { skipExisting: !created });
    await addPlannedItems(ctx.meta, args.runId, fresh);
    await ctx.queue.sendItems(items.map((i) => ({ runId: args.runId, itemId: i.itemId, hint: i.hint })));
    written += fresh.length;
    enqueued += items.length;
    ctx.events.safeEmit('plan:progress', { runId: args.runId, items: enqueued });
  };
  const seen = new Set<string>();
  let failure: unknown;
  let flushes = 0;
  const startFlush = () => {
    const dup = duplicateId(chunk, seen);
    if (dup) throw new Error(`planner for ${args.kind} produced item id ${dup} twice`);
    const p = flush(chunk);
    chunk = [];
    flushes++;
    inFlight.add(p);
    p.catch((err) => (failure ??= err)).finally(() => inFlight.delete(p));
  };
  try {
    for await (const item of job.plan(spec, { ctx, runId: args.runId, log })) {
      chunk.push(item);
      // Latency first, then batches. While no write is in flight, what the planner has yielded
      // goes at once: the fleet starts on the first range while the planner lists the next pages
      // (a 5,000-object sync's first message left after all 5 pages before; now after the
      // first). While writes are in flight, items gather into chunks. An idle flush after the
      // first waits for a full SQS batch, so a slow planner does not send batches of one.
      const idle = inFlight.size === 0 && (flushes === 0 || chunk.length >= SEND_BATCH);
      if (chunk.length >= chunkSize || idle) {
        startFlush();
        if (failure) throw failure;
        // Keep a few chunks in flight while the planner lists more; bounded, so memory stays flat.
        if (inFlight.size >= 4) await Promise.race(inFlight);
      }
    }
    if (chunk.length) startFlush();
    await Promise.all(inFlight);
  } catch (err) {
    // Let the writes already started finish before reporting: the caller may close the clients,
    // and a re-plan resumes from whatever landed. A permanent error (bad input found while
    // listing, access denied) fails the run, so it does not sit in `planning` looking busy.
    await Promise.allSettled(inFlight);
    if (!classifyError(err).retryable)
      await applyRunTransition(ctx.meta, args.runId, 'planFailed').catch(() => undefined);
    throw err;
  }
  if (failure) throw failure;
  if (!created) await recountPlannedItems(ctx.meta, ctx.items, args.runId);
  await markPlanComplete(ctx.meta, args.runId);
  // The fleet may have finished every item before the plan was marked complete.
  await finishRunIfComplete(ctx.meta, ctx.items, args.runId);
  log.info({ itemsWritten: written, itemsEnqueued: enqueued }, 'plan complete');
  ctx.events.safeEmit('plan:complete', { runId: args.runId, items: enqueued });
  return {
    run: { ...run, planComplete: true, state: 'running' },
    planned: true,
    itemsWritten: written,
    itemsEnqueued: enqueued,
  };
}

/** Messages per SendMessageBatch (SQS's limit): an idle flush waits for this many items. */
const SEND_BATCH = 10;

/** Ids must be unique within a run; checks a chunk and remembers only a bounded window. */
function duplicateId(chunk: NewItem[], seen: Set<string>): string | undefined {
  for (const item of chunk) {
    if (seen.has(item.itemId)) return item.itemId;
    seen.add(item.itemId);
  }
  if (seen.size > 50_000) seen.clear();
  return undefined;
}
