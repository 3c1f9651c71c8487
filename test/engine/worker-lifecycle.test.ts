/**
 * The worker's lifecycle on the real local stack: graceful shutdown with items in flight, a lost
 * lease aborting its item, heartbeat rows and counters.
 */
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { runStatus } from '../../coordinator/status.js';
import { LeaseLostError, NotFoundError, ServiceUnavailableError } from '../../shared/errors.js';
import { readCounterMinutes, readCounterTotals } from '../../state/counters.js';
import { completeItem, getItem } from '../../state/items.js';
import type { ItemRow } from '../../state/item-row.js';
import { statusKey } from '../../state/schema.js';
import { listWorkers } from '../../state/workers.js';
import { waitUntil } from '../helpers/stack.js';
import {
  engineFixture,
  doneCount,
  fastWorker,
  gate,
  itemIdOf,
  planScript,
  queueEmpty,
  recordEvents,
  setBehaviour,
  succeed,
  untilAborted,
} from './script-kind.js';

const fx = engineFixture();

const item = async (runId: string, i: number): Promise<ItemRow> =>
  (await getItem(fx.env.ctx.items, runId, itemIdOf(i)))!;

/** Take an item's lease away from its worker by writing the row (what a takeover looks like). */
async function stealLease(runId: string, itemId: string, thief: string): Promise<void> {
  await fx.env.ctx.items.ddb.send(
    new UpdateCommand({
      TableName: fx.env.ctx.items.table,
      Key: { runId, itemId },
      UpdateExpression: 'SET leaseOwner = :o, leaseExpiresAtMs = :e, statusKey = :sk',
      ExpressionAttributeValues: { ':o': thief, ':e': Date.now() + 60_000, ':sk': statusKey(runId, 'leased', itemId) },
    }),
  );
}

describe('graceful shutdown', () => {
  it('in-flight items that finish within the deadline complete; stop waits for them', async () => {
    const finish = gate();
    const ev = recordEvents(fx.env.ctx, [
      'item:claimed',
      'item:completed',
      'item:released',
      'worker:shutdown:complete',
    ]);
    await planScript(fx.env.ctx, 'drain', 3, async (it, ictx) => {
      await finish.promise;
      return succeed(it, ictx);
    });
    const { worker, loop } = fx.startWithLoop(fastWorker(fx.env.ctx, { shutdownDeadlineMs: 10_000 }));
    await waitUntil(() => ev['item:claimed'].length === 3, { what: '3 in flight' });
    let stopped = false;
    const stopping = worker.stop('SIGTERM').then(() => (stopped = true));
    try {
      await waitUntil(
        async () => (await listWorkers(fx.env.ctx.meta)).find((w) => w.workerId === worker.id)?.state === 'draining',
        { what: 'draining beat' },
      );
      expect(stopped).toBe(false);
    } finally {
      finish.open();
    }
    await stopping;
    await loop;
    expect(ev['item:completed']).toHaveLength(3);
    expect(ev['item:released']).toHaveLength(0);
    expect(ev['worker:shutdown:complete'][0]!.payload).toMatchObject({ released: 0, errors: 0 });
    for (const i of [0, 1, 2]) expect(await item('drain', i)).toMatchObject({ status: 'done', attempts: 1 });
    expect(await queueEmpty(fx.env.ctx)).toBe(true);
  });

  it('items still running at the deadline are aborted and released: pending, attempt not counted, message visible at once', async () => {
    const seen: unknown[] = [];
    const ev = recordEvents(fx.env.ctx, ['item:claimed', 'item:released', 'worker:shutdown:complete']);
    await planScript(fx.env.ctx, 'cut', 3, async (_it, ictx) => {
      try {
        return await untilAborted(ictx.signal);
      } catch (err) {
        seen.push(err);
        throw err;
      }
    });
    const { worker, loop } = fx.startWithLoop(fastWorker(fx.env.ctx, { shutdownDeadlineMs: 300 }));
    await waitUntil(() => ev['item:claimed'].length === 3, { what: '3 in flight' });
    const began = Date.now();
    await worker.stop('SIGTERM');
    await loop;
    expect(Date.now() - began).toBeLessThan(5_000);
    expect(seen).toHaveLength(3);
    expect(ev['item:released']).toHaveLength(3);
    expect(ev['worker:shutdown:complete'][0]!.payload.released).toBe(3);
    for (const i of [0, 1, 2]) {
      const row = await item('cut', i);
      expect(row).toMatchObject({ status: 'pending', attempts: 0 });
      expect(row.leaseOwner).toBeUndefined();
    }
    const d = await fx.env.ctx.queue.depth();
    expect(d.visible).toBe(3);
    expect(d.inFlight).toBe(0);
    // a new worker picks them up straight away and does them
    setBehaviour('cut', succeed);
    fx.startWithLoop(fastWorker(fx.env.ctx));
    await waitUntil(() => doneCount(fx.env.ctx, 'cut', 3), { what: '3 done by the next worker' });
    expect((await item('cut', 0)).attempts).toBe(1);
  });

  it('a handler that ignores its signal does not hang shutdown: its item is released after the force timeout and its late result discarded', async () => {
    const never = gate<void>();
    const ev = recordEvents(fx.env.ctx, ['item:claimed', 'item:released', 'item:completed']);
    await planScript(fx.env.ctx, 'stuck', 1, async (it, ictx) => {
      await never.promise; // ignores ictx.signal
      return succeed(it, ictx);
    });
    const { worker, loop } = fx.startWithLoop(
      fastWorker(fx.env.ctx, { shutdownDeadlineMs: 200, shutdownForceMs: 300 }),
    );
    await waitUntil(() => ev['item:claimed'].length === 1, { what: 'claimed' });
    await worker.stop('SIGTERM');
    await loop;
    expect(ev['item:released']).toHaveLength(1);
    expect(await item('stuck', 0)).toMatchObject({ status: 'pending', attempts: 0 });
    // the handler returns late: nothing is written for it
    never.open();
    await new Promise((r) => setImmediate(r));
    await waitUntil(
      async () => (await item('stuck', 0)).status === 'pending' && (await fx.env.ctx.queue.depth()).visible === 1,
      { what: 'still pending' },
    );
    expect(ev['item:completed']).toHaveLength(0);
  });

  it('with exitWhenIdleMs the worker stops by itself once the queue stays empty', async () => {
    await planScript(fx.env.ctx, 'idle', 2, succeed);
    const { worker, loop } = fx.startWithLoop(fastWorker(fx.env.ctx, { exitWhenIdleMs: 300 }));
    await loop; // resolves on its own
    expect((await runStatus(fx.env.ctx, 'idle')).counts.done).toBe(2);
    expect((await listWorkers(fx.env.ctx.meta)).find((w) => w.workerId === worker.id)).toMatchObject({
      state: 'stopped',
      done: 2,
    });
  });

  it('stop is idempotent and a worker that never started stops cleanly', async () => {
    const w = fastWorker(fx.env.ctx);
    await Promise.all([w.stop(), w.stop()]);
    const { worker, loop } = fx.startWithLoop(fastWorker(fx.env.ctx));
    await Promise.all([worker.stop('SIGINT'), worker.stop('SIGTERM'), loop]);
  });
});

describe('lost lease', () => {
  it("aborts the handler's signal with LeaseLostError and discards its result", async () => {
    const reasons: unknown[] = [];
    const ev = recordEvents(fx.env.ctx, ['item:claimed', 'item:lease:lost', 'item:completed']);
    await planScript(fx.env.ctx, 'steal', 1, async (it, ictx) => {
      await untilAborted(ictx.signal).catch((r) => reasons.push(r));
      return succeed(it, ictx); // pretends to have finished anyway
    });
    fx.startWithLoop(fastWorker(fx.env.ctx, { leaseMs: 1_200 }));
    await waitUntil(() => ev['item:claimed'].length === 1, { what: 'claimed' });
    await stealLease('steal', itemIdOf(0), 'thief');
    await waitUntil(() => ev['item:lease:lost'].length === 1, { what: 'lease lost noticed by the heartbeat' });
    await waitUntil(() => reasons.length === 1, { what: 'handler aborted' });
    expect(reasons[0]).toBeInstanceOf(LeaseLostError);
    const row = await item('steal', 0);
    expect(row).toMatchObject({ status: 'leased', leaseOwner: 'thief', attempts: 1 });
    expect(row.metrics).toBeUndefined();
    expect(ev['item:completed']).toHaveLength(0);
    // the thief can still finish it
    expect(
      await completeItem(fx.env.ctx.items, { runId: 'steal', itemId: itemIdOf(0) }, 'thief', {
        bytes: 0,
        objects: 0,
        durationMs: 0,
      }),
    ).toBe('ok');
  });

  it('a handler that returns before the heartbeat notices still cannot complete: the conditional write refuses', async () => {
    const go = gate();
    const ev = recordEvents(fx.env.ctx, ['item:claimed', 'item:completed', 'item:failed', 'item:retry']);
    await planScript(fx.env.ctx, 'late', 1, async (it, ictx) => {
      await go.promise;
      return succeed(it, ictx);
    });
    fx.startWithLoop(fastWorker(fx.env.ctx, { leaseMs: 30_000 })); // renewals every 10 s: the heartbeat will not notice in time
    await waitUntil(() => ev['item:claimed'].length === 1, { what: 'claimed' });
    await stealLease('late', itemIdOf(0), 'thief');
    go.open();
    await waitUntil(async () => (await item('late', 0)).leaseOwner === 'thief' && fx.workers[0]!.inFlightCount === 0, {
      what: 'handler finished',
    });
    const row = await item('late', 0);
    expect(row).toMatchObject({ status: 'leased', leaseOwner: 'thief' });
    expect(row.metrics).toBeUndefined();
    expect(ev['item:completed']).toHaveLength(0);
    expect(ev['item:failed']).toHaveLength(0);
    expect(ev['item:retry']).toHaveLength(0);
  });
});

describe('heartbeats and counters', () => {
  it('writes heartbeat rows while running and a final one; counters add up across done, failed and retried items', async () => {
    const ev = recordEvents(fx.env.ctx, ['item:completed', 'item:failed']);
    await planScript(
      fx.env.ctx,
      'count',
      12,
      async (it, ictx) => {
        const i = Number(it.spec.i);
        if (i === 10) throw new NotFoundError('SOURCE_OBJECT_MISSING', 'gone');
        if (i === 11 && it.attempts === 1) throw new ServiceUnavailableError('blip');
        return succeed(it, ictx);
      },
      { backoffBaseMs: 10, backoffCapMs: 10 },
    );
    const { worker } = fx.startWithLoop(fastWorker(fx.env.ctx, { instance: 'instance-7' }));
    const beat = await waitUntil(
      async () => (await listWorkers(fx.env.ctx.meta)).find((w) => w.workerId === worker.id),
      { what: 'first heartbeat' },
    );
    expect(beat).toMatchObject({ state: 'running', pid: process.pid, instance: 'instance-7' });
    expect(typeof beat.host).toBe('string');
    await waitUntil(() => ev['item:completed'].length === 11 && ev['item:failed'].length === 1, {
      what: 'all finished',
    });
    // heartbeats keep coming while it runs
    await waitUntil(
      async () => {
        const b = (await listWorkers(fx.env.ctx.meta)).find((w) => w.workerId === worker.id);
        return b && b.lastBeatAtMs > beat.lastBeatAtMs && b.done === 11 && b.failed === 1;
      },
      { what: 'a later beat with the counts' },
    );
    await worker.stop();
    const last = (await listWorkers(fx.env.ctx.meta)).find((w) => w.workerId === worker.id)!;
    expect(last).toMatchObject({ state: 'stopped', done: 11, failed: 1, inFlight: 0, runs: ['count'] });
    const totals = await readCounterTotals(fx.env.ctx.meta, 'count');
    const bytes = Array.from({ length: 12 }, (_, i) => i)
      .filter((i) => i !== 10)
      .reduce((a, b) => a + b, 0);
    expect(totals.total).toEqual({ done: 11, failed: 1, retries: 1, bytes, objects: 11, skipped: 0, skippedBytes: 0 });
    expect([...totals.byWorker.keys()]).toEqual([worker.id]);
    const minutes = await readCounterMinutes(fx.env.ctx.meta, 'count', 3);
    const summed = minutes.reduce((a, m) => a + m.counters.done, 0);
    expect(summed).toBe(11);
    const s = await runStatus(fx.env.ctx, 'count');
    expect(s.counters.done).toBe(11);
    expect(s.counts).toMatchObject({ done: 11, failed: 1 });
  });
});
