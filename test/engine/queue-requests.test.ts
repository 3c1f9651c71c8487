/**
 * The engine's own SQS requests per item, counted by the benchmarks' counting proxy in front of
 * the local stack's SQS: a message is extended to a full lease only when its item outlives the
 * first moments after its claim (batched with the others held then), and completed items'
 * deletes share DeleteMessageBatch requests. Delivery stays as before: nothing redelivered while
 * held, every message deleted in the end.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeStateClients, type StateClients } from '../../shared/clients.js';
import { WorkQueue } from '../../shared/work-queue.js';
import type { EngineContext } from '../../worker/job-kind.js';
import { CountingProxy } from '../bench/lib/counting-proxy.js';
import { waitUntil } from '../helpers/stack.js';
import { engineFixture, fastWorker, planScript, queueEmpty, recordEvents, rowCounts, succeed } from './script-kind.js';

const fx = engineFixture();
let proxy: CountingProxy;
let clients: StateClients;
/** the fixture's context with its queue reached through the proxy */
let ctx: EngineContext;

beforeEach(async () => {
  const state = fx.env.config.state;
  proxy = await new CountingProxy({ name: 'sqs', service: 'sqs', upstream: state.endpoints.sqs! }).start();
  clients = makeStateClients({ ...state, endpoints: { ...state.endpoints, sqs: proxy.url } });
  const q = fx.env.ctx.queue;
  ctx = { ...fx.env.ctx, queue: new WorkQueue(clients.sqs, q.queueUrl, q.dlqUrl) };
});
afterEach(async () => {
  await Promise.all(fx.workers.map((w) => w.stop()));
  clients.destroy();
  await proxy.close();
});

const requests = (action: string) => proxy.stats().actions[action]?.requests ?? 0;

describe('SQS requests per item', () => {
  it('short items: no visibility extension, and their deletes share requests', async () => {
    const n = 12;
    await planScript(ctx, 'short', n, succeed);
    const ev = recordEvents(ctx, ['item:claim:skipped', 'item:completed']);
    proxy.reset(); // the plan's sends are not the worker's
    // hidden 30 s by the receive (first extension due after 10 s): "short" even on a loaded machine
    fx.start(fastWorker(ctx, { concurrency: 2, receiveVisibilitySeconds: 30 }));
    await waitUntil(() => ev['item:completed'].length === n, { what: 'all completed', timeoutMs: 60_000 });
    await waitUntil(() => queueEmpty(ctx), { what: 'every message deleted', timeoutMs: 30_000 });
    expect(await rowCounts(ctx, 'short')).toEqual({ done: n });
    expect(ev['item:claim:skipped'].map((e) => e.payload)).toEqual([]);
    // before: one ChangeMessageVisibilityBatch per receive that brought messages (>= n / 2 here)
    expect(requests('ChangeMessageVisibilityBatch')).toBeLessThanOrEqual(2);
    // before: one DeleteMessageBatch per item, as items of a worker seldom end within 20 ms of each other
    expect(requests('DeleteMessageBatch')).toBeLessThanOrEqual(n / 2);
  }, 120_000);

  it('items longer than the receive visibility get one batched extension and are not redelivered', async () => {
    const n = 3;
    // longer than the receive's visibility (3 s here), shorter than a renewal (leaseMs / 3)
    await planScript(ctx, 'long', n, async (item, ictx) => {
      await new Promise((r) => setTimeout(r, 4_500));
      return succeed(item, ictx);
    });
    const ev = recordEvents(ctx, ['item:claim:skipped', 'item:completed']);
    proxy.reset();
    fx.start(fastWorker(ctx, { concurrency: n, leaseMs: 30_000, receiveVisibilitySeconds: 3 }));
    await waitUntil(() => ev['item:completed'].length === n, { what: 'all completed', timeoutMs: 60_000 });
    await waitUntil(() => queueEmpty(ctx), { what: 'every message deleted', timeoutMs: 30_000 });
    // without the extension each message would come back after 3 s and be seen as held
    expect(ev['item:claim:skipped']).toEqual([]);
    expect(await rowCounts(ctx, 'long')).toEqual({ done: n });
    expect(requests('ChangeMessageVisibilityBatch')).toBeGreaterThanOrEqual(1);
    expect(requests('ChangeMessageVisibilityBatch')).toBeLessThanOrEqual(n);
  }, 120_000);
});
