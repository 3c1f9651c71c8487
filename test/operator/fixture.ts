/**
 * The operator tests' set-up: one local stack per file, a fresh environment (tables, queues) and
 * a CLI config naming it per test, and runs seeded by writing item rows the way a crashed or
 * failing fleet leaves them (no worker needed to reach those states).
 */
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { claimItem, failItem } from '../../state/items.js';
import { putItems } from '../../state/item-bulk.js';
import { createRun } from '../../state/runs.js';
import { writeCliConfig } from '../helpers/cli.js';
import { freshEnv, startTestStack, type TestEnv, type TestStack } from '../helpers/stack.js';

export interface OperatorFixture {
  readonly env: TestEnv;
  /** a convoy.config.json naming this test's environment */
  readonly config: string;
}

export function operatorFixture(): OperatorFixture {
  let stack: TestStack | undefined;
  let env: TestEnv | undefined;
  let config: string | undefined;
  beforeAll(async () => {
    stack = await startTestStack();
  });
  afterAll(async () => stack?.close());
  beforeEach(async () => {
    env = await freshEnv(stack!.stack);
    config = writeCliConfig(env);
  });
  afterEach(() => env?.close());
  return {
    get env() {
      if (!env) throw new Error('operatorFixture: only inside a test');
      return env;
    },
    get config() {
      if (!config) throw new Error('operatorFixture: only inside a test');
      return config;
    },
  };
}

export const itemId = (i: number) => `i-${String(i).padStart(4, '0')}`;

/**
 * A run with `pending` items whose messages were never sent (lost) and failed items of the given
 * classes (`{SOURCE_OBJECT_MISSING: 3}`), failed permanently by a worker.
 */
export async function seedRun(
  env: TestEnv,
  runId: string,
  opts: { pending?: number; failed?: Record<string, number> },
): Promise<{ failedIds: Record<string, string[]> }> {
  await createRun(env.ctx.meta, { runId, kind: 's3-sync', spec: {} });
  const failed = Object.entries(opts.failed ?? {});
  const total = (opts.pending ?? 0) + failed.reduce((n, [, k]) => n + k, 0);
  const ids = Array.from({ length: total }, (_, i) => itemId(i));
  await putItems(
    env.ctx.items,
    runId,
    ids.map((id, i) => ({ itemId: id, kind: 's3-sync', group: 'g', spec: { i } })),
    { skipExisting: false },
  );
  const failedIds: Record<string, string[]> = {};
  let next = opts.pending ?? 0;
  for (const [errorClass, n] of failed) {
    failedIds[errorClass] = [];
    for (let k = 0; k < n; k++, next++) {
      const ref = { runId, itemId: ids[next]! };
      await claimItem(env.ctx.items, ref, 'w1', 60_000);
      await failItem(
        env.ctx.items,
        ref,
        'w1',
        { errorClass, message: `${errorClass} on ${ref.itemId}`, retryable: false },
        { retry: false },
      );
      failedIds[errorClass]!.push(ref.itemId);
    }
  }
  return { failedIds };
}

/** Messages in the work queue (visible, in flight, delayed). */
export async function queued(env: TestEnv): Promise<number> {
  const d = await env.ctx.queue.depth();
  return d.visible + d.inFlight + d.delayed;
}
