import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { planRun } from '../../coordinator/plan.js';
import { runStatus } from '../../coordinator/status.js';
import { pluginOf } from '../../worker/job-kind.js';
import { Worker } from '../../worker/worker.js';
import { freshEnv, startTestStack, waitUntil, type TestStack } from '../helpers/stack.js';

const testCountKind = pluginOf({
  kind: 'test-count',
  specSchema: z.object({ n: z.number() }),
  async preflight() {},
  async *plan(spec: { n: number }) {
    for (let i = 0; i < spec.n; i++)
      yield { itemId: `n:${String(i).padStart(5, '0')}`, kind: 'test-count', group: `g${i % 3}`, spec: { i } };
  },
  async handle(item) {
    return { bytes: Number(item.spec.i), objects: 1 };
  },
});

let t: TestStack;
beforeAll(async () => {
  t = await startTestStack();
});
afterAll(async () => t?.close());

describe('engine smoke', () => {
  it('plans, works and completes every item', async () => {
    const env = await freshEnv(t.stack, {
      kinds: [testCountKind],
      ...(process.env.DEBUG_LOG ? { log: (await import('../../shared/log.js')).createLogger('debug') } : {}),
    });
    const plan = await planRun(env.ctx, { kind: 'test-count', runId: 'r1', spec: { n: 120 } });
    expect(plan.itemsWritten).toBe(120);
    const again = await planRun(env.ctx, { kind: 'test-count', runId: 'r1', spec: { n: 120 } });
    expect(again.planned).toBe(false);
    const worker = new Worker(env.ctx, {
      concurrency: 16,
      waitSeconds: 0,
      threads: 1,
      counterFlushMs: 100,
      heartbeatMs: 200,
    });
    const done = worker.start();
    const s = await waitUntil(
      async () => {
        const st = await runStatus(env.ctx, 'r1');
        if (process.env.DEBUG_LOG) console.log(st.counts);
        return st.counts.done === 120 ? st : undefined;
      },
      { what: '120 done' },
    );
    expect(s.counts.failed).toBe(0);
    await worker.stop();
    await done;
    const final = await runStatus(env.ctx, 'r1');
    expect(final.run.state).toBe('done');
    expect(final.counters.done).toBe(120);
    expect(final.counters.bytes).toBe((119 * 120) / 2);
    env.close();
  });
});
