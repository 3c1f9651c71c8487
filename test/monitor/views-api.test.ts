/**
 * The monitor's reads against a run with known counts (done, failed by class, retrying overdue,
 * leased with an expired lease, pending), written through the state/ functions on a real local
 * stack with an injected clock; then every API route in-process with app.request().
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planRun } from '../../coordinator/plan.js';
import { createApiApp } from '../../monitor/api.js';
import { SnapshotReader } from '../../monitor/snapshot.js';
import { buildSummary, formatSummary } from '../../monitor/summary.js';
import { formatGroupView, instanceViews, readFailedView, readGroupView, readStuckItems } from '../../monitor/views.js';
import { createWorkerMetrics, serveWorkerMetrics } from '../../monitor/worker-metrics.js';
import { ConvoyEmitter } from '../../shared/events.js';
import { CounterBuffer } from '../../state/counters.js';
import { claimItem, completeItem, failItem } from '../../state/items.js';
import { putItems } from '../../state/item-bulk.js';
import { markPlanComplete } from '../../state/run-lifecycle.js';
import { createRun, getRun } from '../../state/runs.js';
import { writeHeartbeat } from '../../state/workers.js';
import { freshEnv, startTestStack, type TestEnv, type TestStack } from '../helpers/stack.js';
import { synthGroup, synthItemId, synthPlugin } from './fixtures/synth-kind.js';
import { parseMetrics, sample } from './helpers.js';

const MIB = 1024 * 1024;
const RUN = 'r1';
const spec = { items: 20, customers: 2, spaces: 2 };
let t: TestStack;
let env: TestEnv;
let nowMs = Date.UTC(2026, 0, 1, 12, 0, 30);

/**
 * Items 0-9 done, 10-12 failed (A, A, B), 13-14 retrying with the next attempt 10 min overdue,
 * 15-16 leased with expired leases, 17 leased and healthy, 18-19 pending.
 */
async function buildKnownRun(e: TestEnv): Promise<void> {
  await planRun(e.ctx, { kind: 'synth', runId: RUN, spec });
  const ref = (i: number) => ({ runId: RUN, itemId: synthItemId(i) });
  const counters = new CounterBuffer(e.ctx.meta, 'w1');
  for (let i = 0; i <= 17; i++)
    expect((await claimItem(e.ctx.items, ref(i), 'w1', i === 15 || i === 16 ? 1_000 : 600_000)).outcome).toBe(
      'claimed',
    );
  for (let i = 0; i <= 9; i++) {
    expect(await completeItem(e.ctx.items, ref(i), 'w1', { bytes: MIB, objects: 1, durationMs: 5 })).toBe('ok');
    counters.add(RUN, { done: 1, bytes: MIB, objects: 1 }, synthGroup(i, spec));
  }
  for (const [i, cls] of [
    [10, 'A'],
    [11, 'A'],
    [12, 'B'],
  ] as const) {
    await failItem(
      e.ctx.items,
      ref(i),
      'w1',
      { errorClass: cls, message: `${cls} broke item ${i}`, retryable: false },
      { retry: false },
    );
    counters.add(RUN, { failed: 1 }, synthGroup(i, spec));
  }
  for (const i of [13, 14]) {
    await failItem(
      e.ctx.items,
      ref(i),
      'w1',
      { errorClass: 'SLOW', message: 'try later', retryable: true },
      { retry: true, nextAttemptAtMs: nowMs - 600_000 },
    );
  }
  await counters.flush();
  const beat = { host: 'h', pid: 1, startedAtMs: nowMs - 60_000, inFlight: 3, done: 10, failed: 3 };
  await writeHeartbeat(e.ctx.meta, { ...beat, workerId: 'w1', instance: 'i1', state: 'running', lastBeatAtMs: nowMs });
  await writeHeartbeat(e.ctx.meta, {
    ...beat,
    workerId: 'w2',
    instance: 'i2',
    state: 'running',
    lastBeatAtMs: nowMs - 120_000,
  });
  await writeHeartbeat(e.ctx.meta, {
    ...beat,
    workerId: 'w3',
    instance: 'i2',
    state: 'stopped',
    lastBeatAtMs: nowMs - 60_000,
  });
  nowMs += 5_000; // the two short leases have run out
}

beforeAll(async () => {
  t = await startTestStack();
  env = await freshEnv(t.stack, { now: () => nowMs, kinds: [synthPlugin] });
  await buildKnownRun(env);
});
afterAll(async () => {
  env?.close();
  await t?.close();
});

describe('monitor views on a run with known counts', () => {
  it('summarises counts, failures by class, bytes, rate, ETA, queue and workers', async () => {
    const s = await buildSummary(env.ctx, RUN, { staleAfterMs: 30_000 });
    expect(s.total).toBe(20);
    expect(s.counts).toEqual({ done: 10, failed: 3, retrying: 2, leased: 3, pending: 2 });
    expect(s.countsExact).toBe(true);
    expect(s.failuresByClass).toEqual({ A: 2, B: 1 });
    expect(s.counters).toMatchObject({ done: 10, failed: 3, bytes: 10 * MIB, objects: 10 });
    expect(s.workerCounts).toEqual({ alive: 1, stale: 1, draining: 0, stopped: 1, gone: 0 });
    expect(s.progress).toEqual({ done: 10, failed: 3, total: 20, donePercent: 50, failedPercent: 15 });
    // items 15 and 16: their leases ran out (they wait for a redelivery); 17's owner renews it
    expect(s.leaseWait).toEqual({ items: 2, seconds: 0 });
    expect(s.queue).toMatchObject({ visible: 20, inFlight: 0, dlqVisible: 0 });
    // All 10 done items were counted in the current minute, 35 s in: 10 / (35/60) items/min.
    expect(s.rate.itemsPerMin).toBeCloseTo(10 / (35 / 60), 1);
    expect(s.etaSeconds).toBe(Math.round((7 / s.rate.itemsPerMin) * 60));
    expect(s.run.state).toBe('running');
    const text = formatSummary(s);
    expect(text).toMatch(/done\s+10\s+50\.0%/);
    expect(text).toMatch(/failed\s+3\s+15\.0%/);
    expect(text).toContain('workers: 1 alive, 1 stale');
    expect(text).toMatch(/A\s+2\n\s+B\s+1/);
  });

  it('lists stuck items: expired leases and overdue retries, not the healthy lease', async () => {
    const stuck = await readStuckItems(env.ctx, RUN, { stuckAfterMs: 60_000 });
    expect(stuck.map((s) => [s.itemId, s.reason]).sort()).toEqual([
      [synthItemId(13), 'retry-overdue'],
      [synthItemId(14), 'retry-overdue'],
      [synthItemId(15), 'lease-expired'],
      [synthItemId(16), 'lease-expired'],
    ]);
  });

  it('pages through failed items with the class totals on the first page', async () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const v = await readFailedView(env.ctx, RUN, { limit: 2, cursor });
      if (pages === 0) expect(v.byClass).toEqual({ A: 2, B: 1 });
      else expect(v.byClass).toBeNull();
      expect(v.items.length).toBeLessThanOrEqual(2);
      seen.push(...v.items.map((i) => `${i.itemId}:${i.errorClass}:${i.message}`));
      cursor = v.nextCursor;
      pages++;
    } while (cursor);
    expect(seen.sort()).toEqual([
      `${synthItemId(10)}:A:A broke item 10`,
      `${synthItemId(11)}:A:A broke item 11`,
      `${synthItemId(12)}:B:B broke item 12`,
    ]);
    const onlyB = await readFailedView(env.ctx, RUN, { errorClass: 'B' });
    expect(onlyB.items.map((i) => i.itemId)).toEqual([synthItemId(12)]);
  });

  it("shows a customer's groups and one worker instance", async () => {
    // the view takes the part names as input (the CLI and the API give the run's kind's); synth's
    // groups are written `cust<k>/space<k>`, read here with those names
    const parts = ['customer', 'space'];
    const v = await readGroupView(env.ctx, RUN, { customer: 'cust0' }, parts);
    // even items: done 0,2,4,6,8; failed 10,12; retrying 14; leased 16
    expect(v.groups.map((g) => g.group)).toEqual(['cust0/space0']);
    // even items: 0-8 done, 10 and 12 failed, 14 retrying, 16 leased, 18 pending (planned counted per group)
    expect(v.total).toMatchObject({ planned: 10, pending: 1, leased: 1, retrying: 1, failedNow: 2 });
    expect(formatGroupView(v)).toMatch(/cust0\/space0\s+planned\s+10\s+pending\s+1\s+done\s+5/);
    expect(v.total.counters).toMatchObject({ done: 5, failed: 2, bytes: 5 * MIB });
    const bySpace = await readGroupView(env.ctx, RUN, { space: 'space1' }, parts);
    expect(bySpace.total.counters.done).toBe(5);
    expect(bySpace.total).toMatchObject({ planned: 10, pending: 1 });
    const s = await buildSummary(env.ctx, RUN);
    const i2 = instanceViews(s, 'i2');
    expect(i2).toHaveLength(1);
    expect(i2[0]!.workers.map((w) => [w.workerId, w.status])).toEqual([
      ['w2', 'stale'],
      ['w3', 'stopped'],
    ]);
  });

  it('between exact counts, advances done with the counters and corrects their drift at the next count', async () => {
    const e = await freshEnv(t.stack, { now: () => nowMs, kinds: [synthPlugin] });
    try {
      await buildKnownRun(e);
      const reader = new SnapshotReader(e.ctx, { smallSetMax: -1, recountEveryMs: 0 });
      const first = await reader.read(RUN);
      expect(first.countsExact).toBe(false);
      expect(first.counts).toEqual({ done: 10, failed: 3, retrying: 2, leased: 3, pending: 2 });
      await reader.settle();
      // Item 18 is done but its counter flush was lost (a worker killed before flushing).
      const ref = { runId: RUN, itemId: synthItemId(18) };
      await claimItem(e.ctx.items, ref, 'w9', 60_000);
      await completeItem(e.ctx.items, ref, 'w9', { bytes: 0, objects: 0, durationMs: 1 });
      expect((await reader.read(RUN)).counts.done).toBe(10);
      await reader.settle();
      expect((await reader.read(RUN)).counts).toEqual({ done: 11, failed: 3, retrying: 2, leased: 3, pending: 1 });
      await reader.settle();
    } finally {
      e.close();
    }
  });
});

describe('monitor API (in-process)', () => {
  const token = 'test-token-0123456789abcdef';
  const json = async (res: Response) => (await res.json()) as Record<string, any>;

  it('serves runs, a run, failed pages, stuck items and 404s', async () => {
    const app = createApiApp(env.ctx, { token });
    expect((await app.request('/healthz')).status).toBe(200);
    const runs = await json(await app.request('/runs'));
    expect(runs.runs.map((r: { runId: string }) => r.runId)).toEqual([RUN]);
    const run = await json(await app.request(`/runs/${RUN}`));
    expect(run.counts).toEqual({ done: 10, failed: 3, retrying: 2, leased: 3, pending: 2 });
    expect(run.failuresByClass).toEqual({ A: 2, B: 1 });
    const missing = await app.request('/runs/nope');
    expect(missing.status).toBe(404);
    expect((await json(missing)).message).toContain('run "nope" not found');
    const page = await json(await app.request(`/runs/${RUN}/failed?limit=2`));
    expect(page.items).toHaveLength(2);
    expect(page.nextCursor).toBeTruthy();
    const rest = await json(await app.request(`/runs/${RUN}/failed?limit=2&cursor=${page.nextCursor}`));
    expect(page.items.length + rest.items.length).toBe(3);
    expect((await app.request(`/runs/${RUN}/failed?limit=zero`)).status).toBe(400);
    const stuck = await json(await app.request(`/runs/${RUN}/stuck?stuckAfterMs=60000`));
    expect(stuck.items).toHaveLength(4);
  });

  it("filters failed items by the run's kind's group parts and by ?group; another kind's part is a 400", async () => {
    const app = createApiApp(env.ctx, {});
    const ids = async (query: string) =>
      ((await json(await app.request(`/runs/${RUN}/failed?${query}`))).items as Array<{ itemId: string }>)
        .map((i) => i.itemId)
        .sort();
    // failed: 10 (cust0/space0), 11 (cust1/space1), 12 (cust0/space0); synth's parts are tenant/shard
    expect(await ids('tenant=cust0')).toEqual([synthItemId(10), synthItemId(12)]);
    expect(await ids('shard=space1')).toEqual([synthItemId(11)]);
    expect(await ids('tenant=cust0&shard=space1')).toEqual([]);
    expect(await ids('group=cust1')).toEqual([synthItemId(11)]);
    expect(await ids('group=cust0/space0')).toEqual([synthItemId(10), synthItemId(12)]);
    expect(await ids('group=cust0/space')).toEqual([]);
    const wrong = await app.request(`/runs/${RUN}/failed?customer=cust0`);
    expect(wrong.status).toBe(400);
    expect((await json(wrong)).message).toBe(
      `query parameter customer does not apply to run "${RUN}" (kind synth): its groups' parts are tenant/shard; use those or ?group`,
    );
  });

  it('serves Prometheus metrics that a text-format parser reads back', async () => {
    const app = createApiApp(env.ctx, { token, snapshot: { staleAfterMs: 30_000 } });
    const res = await app.request('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const m = parseMetrics(await res.text());
    expect(sample(m, 'convoy_run_items', { run: RUN, status: 'done' })).toBe(10);
    expect(sample(m, 'convoy_run_items', { run: RUN, status: 'failed' })).toBe(3);
    expect(sample(m, 'convoy_run_failed_items', { run: RUN, error_class: 'A' })).toBe(2);
    expect(sample(m, 'convoy_run_bytes_moved', { run: RUN })).toBe(10 * MIB);
    expect(sample(m, 'convoy_run_items_in_flight', { run: RUN })).toBe(3);
    expect(sample(m, 'convoy_queue_messages', { state: 'visible' })).toBe(20);
    expect(sample(m, 'convoy_dlq_messages')).toBe(0);
    expect(sample(m, 'convoy_worker_up', { worker: 'w1' })).toBe(1);
    expect(sample(m, 'convoy_worker_up', { worker: 'w2', state: 'stale' })).toBe(0);
    expect(sample(m, 'convoy_worker_items_per_minute', { run: RUN, worker: 'w1' })).toBeGreaterThan(0);
  });

  it('requires the bearer token to requeue, and refuses writes when no token is configured', async () => {
    const readOnly = createApiApp(env.ctx, {});
    const refused = await readOnly.request(`/runs/${RUN}/requeue`, { method: 'POST' });
    expect(refused.status).toBe(403);
    expect((await json(refused)).message).toContain('CONVOY_API_TOKEN');
    const app = createApiApp(env.ctx, { token });
    expect((await app.request(`/runs/${RUN}/requeue`, { method: 'POST' })).status).toBe(401);
    expect(
      (
        await app.request(`/runs/${RUN}/requeue`, {
          method: 'POST',
          headers: { authorization: 'Bearer wrong-token-123456789' },
        })
      ).status,
    ).toBe(401);
    const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    expect(
      (await app.request(`/runs/${RUN}/requeue`, { method: 'POST', headers: auth, body: '{"bogus":1}' })).status,
    ).toBe(400);
    const ok = await app.request(`/runs/${RUN}/requeue`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ errorClass: 'B' }),
    });
    expect(ok.status).toBe(200);
    expect(await json(ok)).toMatchObject({ runId: RUN, requeued: 1 });
    const after = await json(await app.request(`/runs/${RUN}/failed`));
    expect(after.byClass).toEqual({ A: 2 });
  });
});

describe('monitor API run control', () => {
  const token = 'test-token-0123456789abcdef';
  const auth = { authorization: `Bearer ${token}` };

  it('pauses, resumes and cancels a run with the token; refuses without one; names the state when it cannot', async () => {
    await createRun(env.ctx.meta, { runId: 'ctl', kind: 'synth', spec: {} });
    // one item held by a live lease: the run has open work throughout (resume re-sends nothing,
    // and nothing finishes the run under the test's feet)
    await putItems(env.ctx.items, 'ctl', [{ itemId: 'held', kind: 'synth', group: 'g', spec: {} }], {
      skipExisting: false,
    });
    await claimItem(env.ctx.items, { runId: 'ctl', itemId: 'held' }, 'someone', 3_600_000);
    await markPlanComplete(env.ctx.meta, 'ctl');
    const readOnly = createApiApp(env.ctx, {});
    const refused = await readOnly.request('/runs/ctl/pause', { method: 'POST' });
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { message: string }).message).toContain('pause is disabled');
    const app = createApiApp(env.ctx, { token });
    expect((await app.request('/runs/ctl/pause', { method: 'POST' })).status).toBe(401);
    expect((await getRun(env.ctx.meta, 'ctl'))?.state).toBe('running');

    const paused = await app.request('/runs/ctl/pause', { method: 'POST', headers: auth });
    expect(paused.status).toBe(200);
    expect(await paused.json()).toEqual({ runId: 'ctl', from: 'running', to: 'paused' });
    const twice = await app.request('/runs/ctl/pause', { method: 'POST', headers: auth });
    expect(twice.status).toBe(400);
    expect(await twice.json()).toEqual({ error: 'BAD_INPUT', message: 'run ctl is already paused' });
    expect(await (await app.request('/runs/ctl/resume', { method: 'POST', headers: auth })).json()).toEqual({
      runId: 'ctl',
      from: 'paused',
      to: 'running',
      resent: 0,
    });
    expect((await app.request('/runs/ctl/cancel', { method: 'POST', headers: auth })).status).toBe(200);
    expect((await getRun(env.ctx.meta, 'ctl'))?.state).toBe('cancelled');
    expect((await app.request('/runs/ctl/requeue', { method: 'POST', headers: auth })).status).toBe(400);
    expect((await app.request('/runs/nope/pause', { method: 'POST', headers: auth })).status).toBe(404);
  });
});

describe('worker /healthz and /metrics', () => {
  it("counts the worker's events and reports draining as unhealthy", async () => {
    const events = new ConvoyEmitter();
    const m = createWorkerMetrics(events, { workerId: 'w9', processMetrics: false });
    const ref = (i: number) => ({ runId: RUN, itemId: `i${i}` });
    for (const i of [1, 2, 3]) events.safeEmit('item:claimed', { ...ref(i), attempt: 1 });
    events.safeEmit('item:completed', { ...ref(1), durationMs: 1500, bytes: 100, objects: 2 });
    events.safeEmit('item:failed', { ...ref(2), errorClass: 'X', message: 'no' });
    const parsed = parseMetrics(await (await m.app.request('/metrics')).text());
    expect(sample(parsed, 'convoy_worker_items_completed_total', { run: RUN, worker: 'w9' })).toBe(1);
    expect(sample(parsed, 'convoy_worker_items_failed_total', { run: RUN, error_class: 'X' })).toBe(1);
    expect(sample(parsed, 'convoy_worker_bytes_total', { run: RUN })).toBe(100);
    expect(sample(parsed, 'convoy_worker_items_in_flight')).toBe(1);
    expect(sample(parsed, 'convoy_worker_item_duration_seconds')).toBe(1);
    expect((await m.app.request('/healthz')).status).toBe(200);
    events.safeEmit('worker:shutdown:begin', { workerId: 'w9' });
    expect((await m.app.request('/healthz')).status).toBe(503);
    m.detach();
  });

  it('listens on 127.0.0.1 and closes', async () => {
    const events = new ConvoyEmitter();
    const served = await serveWorkerMetrics(events, { workerId: 'w8', port: 0 });
    try {
      expect(served.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const res = await fetch(`${served.url}/healthz`);
      expect(await res.json()).toMatchObject({ status: 'running', workerId: 'w8' });
      expect(await (await fetch(`${served.url}/metrics`)).text()).toContain('convoy_worker_process_');
    } finally {
      await served.close();
    }
  });
});
