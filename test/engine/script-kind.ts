/**
 * A scriptable job kind for engine tests: each run's handler is a function the test sets, so one
 * registered kind covers success, retryable and permanent failures, slow items and items that
 * wait on their AbortSignal. Plus small fixtures: fast worker options, an event recorder, and
 * queue helpers (all against the real local stack).
 */
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import * as z from 'zod';
import { planRun } from '../../coordinator/plan.js';
import type { ConvoyEventName, ConvoyEvents } from '../../shared/events.js';
import type { RetryPolicyInput } from '../../shared/retry-policy.js';
import { itemsOfRun } from '../../state/item-bulk.js';
import type { ItemRow } from '../../state/item-row.js';
import { pluginOf, type EngineContext, type ItemContext, type ItemOutcome } from '../../worker/job-kind.js';
import type { WorkerOptionsInput } from '../../worker/options.js';
import { Worker } from '../../worker/worker.js';
import { freshEnv, startTestStack, type TestEnv, type TestStack } from '../helpers/stack.js';

export const SCRIPT_KIND = 'test-script';

export type Behaviour = (item: ItemRow, ictx: ItemContext<ScriptSpec>) => Promise<ItemOutcome>;
export interface ScriptSpec {
  n: number;
}

const behaviours = new Map<string, Behaviour>();

/** The scriptable kind, added to a test env's kinds by `engineFixture` (freshEnv's `kinds`). */
export const scriptPlugin = pluginOf({
  kind: SCRIPT_KIND,
  specSchema: z.object({ n: z.number().int().min(0) }),
  async preflight() {},
  async *plan(spec: ScriptSpec) {
    for (let i = 0; i < spec.n; i++) yield { itemId: itemIdOf(i), kind: SCRIPT_KIND, group: `g${i % 2}`, spec: { i } };
  },
  async handle(item: ItemRow, ictx: ItemContext<ScriptSpec>) {
    const b = behaviours.get(item.runId);
    if (!b) throw new Error(`no behaviour set for run ${item.runId}`);
    return b(item, ictx);
  },
});

export const itemIdOf = (i: number) => `i-${String(i).padStart(4, '0')}`;

/** Retries that keep tests fast (the run's policy, chosen at plan time). */
export const FAST_RETRY: RetryPolicyInput = { backoffBaseMs: 100, backoffCapMs: 400 };

/** Plan a run of `n` items whose handler is `behaviour` (changeable later with setBehaviour). */
export async function planScript(
  ctx: EngineContext,
  runId: string,
  n: number,
  behaviour: Behaviour,
  retry: RetryPolicyInput = FAST_RETRY,
): Promise<void> {
  behaviours.set(runId, behaviour);
  await planRun(ctx, { kind: SCRIPT_KIND, runId, spec: { n }, retry });
}

export function setBehaviour(runId: string, behaviour: Behaviour): void {
  behaviours.set(runId, behaviour);
}

export const succeed: Behaviour = async (item) => ({ bytes: Number(item.spec.i ?? 0), objects: 1 });

/** Options that keep tests fast: short leases, no long polls, frequent flushes. */
export function fastWorker(ctx: EngineContext, opts: WorkerOptionsInput = {}): Worker {
  return new Worker(ctx, {
    concurrency: 4,
    threads: 1,
    waitSeconds: 0,
    leaseMs: 3_000, // short, yet long enough that a loaded 2-core machine does not lose leases by stalling
    heartbeatMs: 150,
    counterFlushMs: 100,
    shutdownDeadlineMs: 2_000,
    ...opts,
  });
}

export interface Recorded<K extends ConvoyEventName> {
  atMs: number;
  payload: ConvoyEvents[K];
}

/** Record every event of the given names with the time it happened. */
export function recordEvents<K extends ConvoyEventName>(
  ctx: EngineContext,
  names: K[],
): { [P in K]: Recorded<P>[] } & { stop(): void } {
  const out = {} as { [P in K]: Recorded<P>[] };
  const offs = names.map((name) => {
    out[name] = [];
    return ctx.events.on(name, (payload) =>
      (out[name] as Recorded<K>[]).push({ atMs: Date.now(), payload: payload as ConvoyEvents[K] }),
    );
  });
  return Object.assign(out, { stop: () => offs.forEach((off) => off()) });
}

/** A promise with its resolve function outside (a gate a handler waits on). */
export function gate<T = void>(): { promise: Promise<T>; open(value: T): void } {
  let open!: (value: T) => void;
  const promise = new Promise<T>((r) => (open = r));
  return { promise, open };
}

/** Resolve when the signal aborts (rejecting with its reason, as fetch and the SDK do). */
export function untilAborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

/** Queue depth as a plain object (visible + in flight + delayed = messages still to be dealt with). */
export async function queueEmpty(ctx: EngineContext): Promise<boolean> {
  const d = await ctx.queue.depth();
  return d.visible === 0 && d.inFlight === 0 && d.delayed === 0;
}

/**
 * Exact counts by status from the item rows themselves (runStatus counts with separate queries,
 * which can read `done` a little high while workers are busy; tests need exact numbers).
 */
export async function rowCounts(ctx: EngineContext, runId: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for await (const page of itemsOfRun(ctx.items, runId))
    for (const row of page) counts[row.status] = (counts[row.status] ?? 0) + 1;
  return counts;
}

/** Whether exactly `n` items of the run are done. */
export async function doneCount(ctx: EngineContext, runId: string, n: number): Promise<boolean> {
  return ((await rowCounts(ctx, runId)).done ?? 0) === n;
}

export interface EngineFixture {
  /** this test's environment (fresh tables and queues) */
  readonly env: TestEnv;
  /** workers started in this test, in order */
  readonly workers: readonly Worker[];
  /** start a worker's loop; it is stopped after the test */
  start(w: Worker): Worker;
  /** the same, keeping the loop's promise (to see how it ends) */
  startWithLoop(w: Worker): { worker: Worker; loop: Promise<void> };
}

/**
 * The engine tests' set-up: one local stack per file, a fresh environment per test, and every
 * worker a test started stopped after it (a leak check: each loop must end). Call at the top of a
 * file or a describe block.
 */
export function engineFixture(): EngineFixture {
  let stack: TestStack | undefined;
  let env: TestEnv | undefined;
  const workers: Worker[] = [];
  beforeAll(async () => {
    stack = await startTestStack();
  });
  afterAll(async () => stack?.close());
  beforeEach(async () => {
    env = await freshEnv(stack!.stack, { kinds: [scriptPlugin] });
  });
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.stop()));
    env?.close();
  });
  const startWithLoop = (w: Worker) => {
    workers.push(w);
    return { worker: w, loop: w.start() };
  };
  return {
    get env() {
      if (!env) throw new Error('engineFixture: the environment exists only inside a test');
      return env;
    },
    workers,
    startWithLoop,
    start: (w) => {
      void startWithLoop(w).loop;
      return w;
    },
  };
}
