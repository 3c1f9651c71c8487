/**
 * Planning on the real local stack: idempotent, resumable after a crash, nothing written when
 * the inputs are bad, planner bugs caught.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { planRun } from '../../coordinator/plan.js';
import { runStatus } from '../../coordinator/status.js';
import { InputError } from '../../shared/errors.js';
import { putItems } from '../../state/item-bulk.js';
import { countByStatus } from '../../state/status-index.js';
import { addPlannedItems, createRun, getRun, listRuns } from '../../state/runs.js';
import { pluginOf } from '../../worker/job-kind.js';
import { freshEnv, startTestStack, type TestEnv, type TestStack } from '../helpers/stack.js';
import { queueEmpty } from './script-kind.js';

/**
 * A kind whose planner can be told to crash after k items, yield a duplicate, refuse its input,
 * or hold after its first item until the test opens `firstItemGate` (a planner still listing).
 */
interface Spec {
  n: number;
  crashAfter?: number;
  duplicate?: boolean;
  refuse?: boolean;
  holdAfterFirst?: boolean;
}
let openFirstItemGate = () => {};
let firstItemGate = Promise.resolve();
const testPlanKind = pluginOf({
  kind: 'test-plan',
  specSchema: z
    .object({
      n: z.number().int().min(1),
      crashAfter: z.number().optional(),
      duplicate: z.boolean().optional(),
      refuse: z.boolean().optional(),
      holdAfterFirst: z.boolean().optional(),
    })
    .strict(),
  async preflight(spec: Spec) {
    if (spec.refuse) throw new InputError('source bucket "nope" does not exist; create it or fix --from');
  },
  async *plan(spec: Spec) {
    for (let i = 0; i < spec.n; i++) {
      if (spec.crashAfter !== undefined && i === spec.crashAfter) throw new Error('listing connection reset');
      yield { itemId: `p-${String(i).padStart(4, '0')}`, kind: 'test-plan', group: 'g', spec: { i } };
      if (i === 0 && spec.holdAfterFirst) await firstItemGate;
    }
    if (spec.duplicate) yield { itemId: 'p-0000', kind: 'test-plan', group: 'g', spec: {} };
  },
  async handle() {
    return { bytes: 0, objects: 0 };
  },
});

let t: TestStack;
let env: TestEnv;
beforeAll(async () => {
  t = await startTestStack();
});
afterAll(async () => t?.close());
beforeEach(async () => {
  env = await freshEnv(t.stack, { kinds: [testPlanKind] });
});
afterEach(() => env.close());

async function messageCount(): Promise<number> {
  const d = await env.ctx.queue.depth();
  return d.visible + d.inFlight + d.delayed;
}

describe('planRun', () => {
  it('writes rows, counts them on the run and enqueues one message per item; planning again does nothing', async () => {
    const r = await planRun(env.ctx, { kind: 'test-plan', runId: 'p1', spec: { n: 130 }, chunkSize: 25 });
    expect(r).toMatchObject({ planned: true, itemsWritten: 130, itemsEnqueued: 130 });
    expect(await getRun(env.ctx.meta, 'p1')).toMatchObject({ state: 'running', planComplete: true, plannedItems: 130 });
    expect(await countByStatus(env.ctx.items, 'p1', 'pending')).toBe(130);
    expect(await messageCount()).toBe(130);
    const again = await planRun(env.ctx, { kind: 'test-plan', runId: 'p1', spec: { n: 130 } });
    expect(again).toMatchObject({ planned: false, itemsWritten: 0, itemsEnqueued: 0 });
    expect((await getRun(env.ctx.meta, 'p1'))!.plannedItems).toBe(130);
    expect(await messageCount()).toBe(130);
  });

  it("sends the planner's first item at once, while the planner is still listing; the rest follow in chunks", async () => {
    firstItemGate = new Promise((open) => (openFirstItemGate = open));
    const planning = planRun(env.ctx, { kind: 'test-plan', runId: 'p8', spec: { n: 130, holdAfterFirst: true } });
    try {
      // the planner is held after its first item: that item's row and message must be out
      const deadline = Date.now() + 10_000;
      while ((await messageCount()) === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(await messageCount()).toBe(1);
      expect(await countByStatus(env.ctx.items, 'p8', 'pending')).toBe(1);
      expect((await getRun(env.ctx.meta, 'p8'))!).toMatchObject({ state: 'planning', plannedItems: 1 });
    } finally {
      openFirstItemGate();
    }
    expect(await planning).toMatchObject({ planned: true, itemsWritten: 130, itemsEnqueued: 130 });
    expect(await messageCount()).toBe(130);
    expect((await getRun(env.ctx.meta, 'p8'))!.plannedItems).toBe(130);
  });

  it('a plan that crashed half-way is resumed: existing rows kept, the rest written, counts exact', async () => {
    await expect(
      planRun(env.ctx, { kind: 'test-plan', runId: 'p2', spec: { n: 90, crashAfter: 60 }, chunkSize: 20 }),
    ).rejects.toThrow(/connection reset/);
    const half = (await getRun(env.ctx.meta, 'p2'))!;
    // what landed before the crash depends on how the chunks were cut; the count must match it
    const landed = await countByStatus(env.ctx.items, 'p2', 'pending');
    expect(landed).toBeGreaterThan(0);
    expect(landed).toBeLessThanOrEqual(60);
    expect(half).toMatchObject({ state: 'planning', planComplete: false, plannedItems: landed });
    const r = await planRun(env.ctx, { kind: 'test-plan', runId: 'p2', spec: { n: 90 }, chunkSize: 20 });
    expect(r).toMatchObject({ planned: true, itemsWritten: 90 - landed, itemsEnqueued: 90 });
    expect(await getRun(env.ctx.meta, 'p2')).toMatchObject({ state: 'running', planComplete: true, plannedItems: 90 });
    expect(await countByStatus(env.ctx.items, 'p2', 'pending')).toBe(90);
    const s = await runStatus(env.ctx, 'p2');
    expect(s.total).toBe(90);
    expect(s.counts.pending).toBe(90);
  });

  it('a plan resumed after its first chunk landed writes and counts only the rest', async () => {
    await createRun(env.ctx.meta, { runId: 'p3', kind: 'test-plan', spec: { n: 10 } });
    await putItems(env.ctx.items, 'p3', [{ itemId: 'p-0000', kind: 'test-plan', group: 'g', spec: { i: 0 } }], {
      skipExisting: false,
    });
    await addPlannedItems(env.ctx.meta, 'p3', 1);
    const r = await planRun(env.ctx, { kind: 'test-plan', runId: 'p3', spec: { n: 10 } });
    expect(r.itemsWritten).toBe(9);
    expect((await getRun(env.ctx.meta, 'p3'))!.plannedItems).toBe(10);
  });

  it('bad input is refused before anything is written: no run row, no items, no messages', async () => {
    const refused = await planRun(env.ctx, { kind: 'test-plan', runId: 'p4', spec: { n: 5, refuse: true } }).catch(
      (e) => e,
    );
    expect(refused).toBeInstanceOf(InputError);
    expect(refused.message).toContain('--from');
    const badSpec = await planRun(env.ctx, { kind: 'test-plan', runId: 'p4', spec: { n: 0, typo: 1 } }).catch((e) => e);
    expect(badSpec).toBeInstanceOf(InputError);
    expect(badSpec.message).toMatch(/invalid test-plan spec/);
    expect(badSpec.message).toMatch(/typo/);
    const unknownKind = await planRun(env.ctx, { kind: 'no-such-kind', runId: 'p4', spec: {} }).catch((e) => e);
    expect(unknownKind).toBeInstanceOf(InputError);
    expect(unknownKind.message).toContain('test-plan'); // lists the known kinds
    expect(await getRun(env.ctx.meta, 'p4')).toBeUndefined();
    expect(await listRuns(env.ctx.meta)).toEqual([]);
    expect(await queueEmpty(env.ctx)).toBe(true);
  });

  it('an existing run id of another kind is refused with the fix', async () => {
    await createRun(env.ctx.meta, { runId: 'p5', kind: 'other-kind', spec: {} });
    const e = await planRun(env.ctx, { kind: 'test-plan', runId: 'p5', spec: { n: 1 } }).catch((x) => x);
    expect(e).toBeInstanceOf(InputError);
    expect(e.message).toMatch(/choose another --run id/);
  });

  it('a planner that yields an id twice is caught, also in the last partial chunk', async () => {
    await expect(planRun(env.ctx, { kind: 'test-plan', runId: 'p6', spec: { n: 7, duplicate: true } })).rejects.toThrow(
      /p-0000 twice/,
    );
    await expect(
      planRun(env.ctx, { kind: 'test-plan', runId: 'p7', spec: { n: 12, duplicate: true }, chunkSize: 13 }),
    ).rejects.toThrow(/p-0000 twice/);
  });

  it('status of an unknown run is bad input naming it', async () => {
    const e = await runStatus(env.ctx, 'ghost').catch((x) => x);
    expect(e).toBeInstanceOf(InputError);
    expect(e.message).toContain('"ghost"');
  });
});
