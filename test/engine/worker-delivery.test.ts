/**
 * The worker loop's delivery semantics on the real local stack: duplicate messages, held items,
 * retries with backoff, permanent failures, the DLQ after the attempt cap, requeue and reconcile.
 */
import { PurgeQueueCommand, ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { reconcileRun } from '../../coordinator/reconcile.js';
import { requeueFailed } from '../../coordinator/requeue.js';
import { runStatus } from '../../coordinator/status.js';
import { NotFoundError, ServiceUnavailableError } from '../../shared/errors.js';
import { readCounterTotals } from '../../state/counters.js';
import { claimItem, failItem, getItem } from '../../state/items.js';
import { putItems } from '../../state/item-bulk.js';
import type { ItemRow } from '../../state/item-row.js';
import { applyRunTransition, markPlanComplete } from '../../state/run-lifecycle.js';
import { addPlannedItems, createRun, getRun } from '../../state/runs.js';
import { waitUntil } from '../helpers/stack.js';
import {
  engineFixture,
  doneCount,
  fastWorker,
  itemIdOf,
  planScript,
  queueEmpty,
  recordEvents,
  SCRIPT_KIND,
  setBehaviour,
  succeed,
  gate,
} from './script-kind.js';

const fx = engineFixture();

const item = async (runId: string, i: number): Promise<ItemRow> =>
  (await getItem(fx.env.ctx.items, runId, itemIdOf(i)))!;
const dlqDepth = async () => (await fx.env.ctx.queue.depth()).dlqVisible;

describe('duplicate delivery', () => {
  it('the same item sent twice is handled once and both messages are deleted', async () => {
    const calls: string[] = [];
    const release = gate();
    const ev = recordEvents(fx.env.ctx, ['item:claim:skipped', 'item:completed']);
    await planScript(fx.env.ctx, 'dup', 1, async (it, ictx) => {
      calls.push(it.itemId);
      await release.promise; // hold the item until the duplicate has been seen
      return succeed(it, ictx);
    });
    await fx.env.ctx.queue.sendItems([{ runId: 'dup', itemId: itemIdOf(0) }]);
    fx.start(fastWorker(fx.env.ctx));
    await waitUntil(() => ev['item:claim:skipped'].some((e) => e.payload.reason === 'held'), {
      what: 'duplicate seen as held',
    });
    release.open();
    await waitUntil(() => ev['item:completed'].length === 1, { what: 'completed' });
    // the duplicate comes back after the lease, finds the item done, and is deleted
    await waitUntil(() => ev['item:claim:skipped'].some((e) => e.payload.reason === 'done'), {
      what: 'duplicate seen as done',
    });
    await waitUntil(() => queueEmpty(fx.env.ctx), { what: 'both messages deleted' });
    expect(calls).toEqual([itemIdOf(0)]);
    expect(await item('dup', 0)).toMatchObject({ status: 'done', attempts: 1 });
    expect(await dlqDepth()).toBe(0);
  });

  it("a held item's duplicate message is hidden until the lease ends, then the item is taken over", async () => {
    await planScript(fx.env.ctx, 'held', 1, succeed);
    const claim = await claimItem(fx.env.ctx.items, { runId: 'held', itemId: itemIdOf(0) }, 'another-worker', 2_500);
    if (claim.outcome !== 'claimed') throw new Error('setup claim failed');
    const leaseEnd = claim.item.leaseExpiresAtMs!;
    const ev = recordEvents(fx.env.ctx, ['item:claim:skipped', 'item:claimed', 'item:completed']);
    fx.start(fastWorker(fx.env.ctx));
    await waitUntil(() => ev['item:claim:skipped'].length === 1, { what: 'held' });
    expect(ev['item:claim:skipped'][0]!.payload.reason).toBe('held');
    // put aside, not spinning: re-sent as a fresh message delayed until the lease ends (a hidden
    // one would count each look toward the DLQ), not received again before then
    await waitUntil(
      async () => {
        const d = await fx.env.ctx.queue.depth();
        return d.visible === 0 && d.inFlight === 0 && d.delayed === 1;
      },
      { what: 'one delayed message' },
    );
    await waitUntil(() => ev['item:completed'].length === 1, { what: 'taken over and completed', timeoutMs: 15_000 });
    expect(ev['item:claim:skipped']).toHaveLength(1);
    expect(ev['item:claimed'][0]!.atMs).toBeGreaterThanOrEqual(leaseEnd);
    expect(await item('held', 0)).toMatchObject({ status: 'done', attempts: 2, worker: fx.workers[0]!.id });
    await waitUntil(() => queueEmpty(fx.env.ctx), { what: 'message deleted' });
  });
});

describe('failures', () => {
  it('a retryable failure is retried with backoff (message hidden for the delay) and then succeeds', async () => {
    const ev = recordEvents(fx.env.ctx, ['item:retry', 'item:claimed', 'item:completed']);
    await planScript(
      fx.env.ctx,
      'retry',
      1,
      async (it, ictx) => {
        if (it.attempts < 3) throw new ServiceUnavailableError(`peer down (attempt ${it.attempts})`);
        return succeed(it, ictx);
      },
      { backoffBaseMs: 300, backoffCapMs: 1_000 },
    );
    const w = fx.start(fastWorker(fx.env.ctx));
    await waitUntil(() => ev['item:completed'].length === 1, { what: 'completed after retries' });
    const row = await item('retry', 0);
    expect(row).toMatchObject({
      status: 'done',
      attempts: 3,
      lastError: { errorClass: 'SERVICE_UNAVAILABLE', retryable: true },
    });
    expect(row.history?.map((h) => h.event)).toEqual(['claimed', 'retry', 'claimed', 'retry', 'claimed', 'completed']);
    const retries = ev['item:retry'];
    expect(retries.map((r) => r.payload.attempt)).toEqual([1, 2]);
    retries.forEach((r, i) => {
      expect(r.payload.delayMs).toBeGreaterThanOrEqual(0);
      expect(r.payload.delayMs).toBeLessThan(300 * 2 ** i); // full jitter below base * 2^(attempt-1)
      // the next claim waited at least the drawn delay (visibility rounds up to whole seconds)
      expect(ev['item:claimed'][i + 1]!.atMs - r.atMs).toBeGreaterThanOrEqual(r.payload.delayMs - 50);
    });
    await waitUntil(() => queueEmpty(fx.env.ctx), { what: 'message deleted' });
    await w.stop();
    const c = await readCounterTotals(fx.env.ctx.meta, 'retry');
    expect(c.total).toMatchObject({ done: 1, retries: 2, failed: 0 });
  });

  it('a permanent failure fails the item at once with its class; the message is deleted, not sent to the DLQ', async () => {
    let calls = 0;
    const ev = recordEvents(fx.env.ctx, ['item:failed']);
    await planScript(fx.env.ctx, 'perm', 1, async () => {
      calls++;
      throw new NotFoundError('SOURCE_OBJECT_MISSING', 'source object k1 no longer exists');
    });
    fx.start(fastWorker(fx.env.ctx));
    await waitUntil(() => ev['item:failed'].length === 1, { what: 'failed' });
    await waitUntil(() => queueEmpty(fx.env.ctx), { what: 'message deleted' });
    expect(calls).toBe(1);
    expect(await item('perm', 0)).toMatchObject({
      status: 'failed',
      attempts: 1,
      lastError: {
        errorClass: 'SOURCE_OBJECT_MISSING',
        retryable: false,
        message: 'source object k1 no longer exists',
      },
    });
    expect(await dlqDepth()).toBe(0);
    const s = await runStatus(fx.env.ctx, 'perm');
    expect(s.counts).toMatchObject({ failed: 1, done: 0, pending: 0, leased: 0, retrying: 0 });
    expect(s.failuresByClass).toEqual({ SOURCE_OBJECT_MISSING: 1 });
  });

  it('a retryable failure that exhausts maxAttempts is failed and its message goes to the DLQ; requeue brings it back and it completes', async () => {
    const failing = new Set([itemIdOf(1), itemIdOf(2)]);
    const ev = recordEvents(fx.env.ctx, ['item:failed', 'item:completed']);
    await planScript(
      fx.env.ctx,
      'dlq',
      3,
      async (it, ictx) => {
        if (failing.has(it.itemId)) throw new ServiceUnavailableError('still down');
        return succeed(it, ictx);
      },
      { maxAttempts: 2, backoffBaseMs: 10, backoffCapMs: 10 },
    );
    fx.start(fastWorker(fx.env.ctx));
    await waitUntil(() => ev['item:failed'].length === 2 && ev['item:completed'].length === 1, {
      what: 'two failed, one done',
    });
    for (const i of [1, 2]) {
      expect(await item('dlq', i)).toMatchObject({
        status: 'failed',
        attempts: 2,
        lastError: { errorClass: 'SERVICE_UNAVAILABLE', retryable: true },
      });
    }
    await waitUntil(async () => (await dlqDepth()) === 2 && (await queueEmpty(fx.env.ctx)), {
      what: 'two messages in the DLQ, none in the queue',
    });

    // the cause is fixed: requeue one item by id, then the rest by class
    failing.clear();
    const one = await requeueFailed(fx.env.ctx, { runId: 'dlq', itemId: itemIdOf(1) });
    expect(one).toEqual({ requeued: 1, dlqMessagesRemoved: 1, dlqRedriven: 0 });
    await waitUntil(() => ev['item:completed'].length === 2, { what: 'requeued item completed' });
    expect(await item('dlq', 1)).toMatchObject({ status: 'done', attempts: 1 });
    expect(await item('dlq', 2)).toMatchObject({ status: 'failed' });
    expect(await dlqDepth()).toBe(1);

    await expect(requeueFailed(fx.env.ctx, { runId: 'dlq', errorClass: 'NO_SUCH_CLASS' })).rejects.toThrow(
      /SERVICE_UNAVAILABLE \(1\)/,
    );
    const rest = await requeueFailed(fx.env.ctx, { runId: 'dlq', errorClass: 'SERVICE_UNAVAILABLE' });
    expect(rest).toEqual({ requeued: 1, dlqMessagesRemoved: 1, dlqRedriven: 0 });
    await waitUntil(() => ev['item:completed'].length === 3, { what: 'all completed' });
    await waitUntil(async () => (await dlqDepth()) === 0 && (await queueEmpty(fx.env.ctx)), { what: 'queues empty' });
    // the worker that ended the last item finishes the run, a moment after (worker/run-finisher.ts)
    await waitUntil(async () => (await getRun(fx.env.ctx.meta, 'dlq'))?.state === 'done', {
      what: 'the run finished by its worker',
    });
    const s = await runStatus(fx.env.ctx, 'dlq');
    expect(s.counts).toMatchObject({ done: 3, failed: 0 });
    expect(s.run.state).toBe('done');
  });
});

describe('reconcile', () => {
  it('re-sends pending items whose messages were lost, due retries and expired leases; not live leases; all complete', async () => {
    const run = 'rec';
    await createRun(fx.env.ctx.meta, { runId: run, kind: SCRIPT_KIND, spec: { n: 0 } });
    setBehaviour(run, succeed);
    // rows written, messages never sent (a crash between the two, or SQS lost them)
    const ids = Array.from({ length: 9 }, (_, i) => itemIdOf(i));
    await putItems(
      fx.env.ctx.items,
      run,
      ids.map((itemId, i) => ({ itemId, kind: SCRIPT_KIND, group: 'g', spec: { i } })),
      { skipExisting: false },
    );
    await addPlannedItems(fx.env.ctx.meta, run, ids.length);
    await markPlanComplete(fx.env.ctx.meta, run);
    const past = { ...fx.env.ctx.items, now: () => Date.now() - 120_000 };
    // i-0006: claimed by a worker that died (lease ran out long ago)
    await claimItem(past, { runId: run, itemId: ids[6]! }, 'dead-worker', 1_000);
    // i-0007: failed once, its retry is due, its message is gone
    await claimItem(past, { runId: run, itemId: ids[7]! }, 'dead-worker', 1_000);
    await failItem(
      past,
      { runId: run, itemId: ids[7]! },
      'dead-worker',
      { errorClass: 'X', message: 'x', retryable: true },
      { retry: true, nextAttemptAtMs: Date.now() - 60_000 },
    );
    // i-0008: held by a live worker: must not be re-sent
    await claimItem(fx.env.ctx.items, { runId: run, itemId: ids[8]! }, 'live-worker', 60_000);

    expect(await queueEmpty(fx.env.ctx)).toBe(true);
    const r = await reconcileRun(fx.env.ctx, run);
    expect(r).toMatchObject({ pending: 6, retrying: 1, expiredLeases: 1, resent: 8, recentlySent: 0 });
    fx.start(fastWorker(fx.env.ctx));
    await waitUntil(() => doneCount(fx.env.ctx, run, 8), { what: '8 done' });
    expect(await item(run, 6)).toMatchObject({ status: 'done', attempts: 2 });
    expect(await item(run, 8)).toMatchObject({ status: 'leased', leaseOwner: 'live-worker' });
    await waitUntil(() => queueEmpty(fx.env.ctx), { what: 'queue empty' });
  });

  it('after the queue is purged (the local stack restarted), reconcile re-sends everything unfinished and nothing is lost', async () => {
    await planScript(fx.env.ctx, 'purged', 12, succeed);
    await fx.env.ctx.queue.sqs.send(new PurgeQueueCommand({ QueueUrl: fx.env.ctx.queue.queueUrl }));
    await waitUntil(() => queueEmpty(fx.env.ctx), { what: 'purged' });
    const r = await reconcileRun(fx.env.ctx, 'purged');
    expect(r.resent).toBe(12);
    fx.start(fastWorker(fx.env.ctx));
    await waitUntil(() => doneCount(fx.env.ctx, 'purged', 12), { what: '12 done' });
    const again = await reconcileRun(fx.env.ctx, 'purged');
    expect(again.resent).toBe(0);
  });

  it('graceMs leaves recently touched items alone', async () => {
    await planScript(fx.env.ctx, 'grace', 3, succeed);
    const r = await reconcileRun(fx.env.ctx, 'grace', { graceMs: 60_000 });
    expect(r.resent).toBe(0);
  });
});

describe('odd messages', () => {
  it('a malformed message goes to the DLQ untouched; real items beside it complete', async () => {
    await planScript(fx.env.ctx, 'odd', 2, succeed);
    await fx.env.ctx.queue.sqs.send(
      new SendMessageCommand({ QueueUrl: fx.env.ctx.queue.queueUrl, MessageBody: '{"not":"a work message"}' }),
    );
    fx.start(fastWorker(fx.env.ctx));
    await waitUntil(() => doneCount(fx.env.ctx, 'odd', 2), { what: 'items done' });
    await waitUntil(async () => (await dlqDepth()) === 1 && (await queueEmpty(fx.env.ctx)), {
      what: 'malformed message in the DLQ',
    });
    const out = await fx.env.ctx.queue.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: fx.env.ctx.queue.dlqUrl, MaxNumberOfMessages: 10 }),
    );
    expect(out.Messages?.map((m) => m.Body)).toEqual(['{"not":"a work message"}']);
  });

  it("a worker limited to some runs leaves other runs' messages to others without spinning on them", async () => {
    await planScript(fx.env.ctx, 'mine', 3, succeed);
    await planScript(fx.env.ctx, 'theirs', 1, succeed);
    const w = fx.start(fastWorker(fx.env.ctx, { runs: ['mine'] }));
    await waitUntil(() => doneCount(fx.env.ctx, 'mine', 3), { what: 'own run done' });
    await w.stop();
    // the other run's message was put aside (hidden a few seconds), not received over and over:
    // once this worker is gone, the next receiver gets it with a small receive count
    const msg = await waitUntil(
      async () =>
        (
          await fx.env.ctx.queue.sqs.send(
            new ReceiveMessageCommand({
              QueueUrl: fx.env.ctx.queue.queueUrl,
              MaxNumberOfMessages: 1,
              WaitTimeSeconds: 1,
              MessageSystemAttributeNames: ['ApproximateReceiveCount'],
            }),
          )
        ).Messages?.[0],
      { what: 'foreign message received by someone else', timeoutMs: 15_000 },
    );
    expect(JSON.parse(msg.Body!)).toMatchObject({ runId: 'theirs' });
    expect(Number(msg.Attributes?.ApproximateReceiveCount)).toBeLessThanOrEqual(3);
    expect((await item('theirs', 0)).status).toBe('pending');
  });

  it("a cancelled run's items are failed with RUN_CANCELLED and their messages deleted", async () => {
    const ev = recordEvents(fx.env.ctx, ['item:failed']);
    let calls = 0;
    await planScript(fx.env.ctx, 'cancelled', 2, async (it, ictx) => {
      calls++;
      return succeed(it, ictx);
    });
    expect(await applyRunTransition(fx.env.ctx.meta, 'cancelled', 'cancel', { onlyFrom: 'running' })).toBe(true);
    fx.start(fastWorker(fx.env.ctx));
    await waitUntil(() => ev['item:failed'].length === 2, { what: 'both failed' });
    await waitUntil(() => queueEmpty(fx.env.ctx), { what: 'messages deleted' });
    expect(calls).toBe(0);
    expect(await item('cancelled', 0)).toMatchObject({ status: 'failed', lastError: { errorClass: 'RUN_CANCELLED' } });
    expect(await dlqDepth()).toBe(0);
  });
});
