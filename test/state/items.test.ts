/**
 * The item state machine (state/items.ts) against the real local stack: one conditional write per
 * transition, typed results when a condition is lost, and rows left untouched by losers.
 * Time is injected through the store's `now`, so lease expiry is tested without waiting.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { makeStateClients } from '../../shared/clients.js';
import {
  claimItem,
  completeItem,
  failItem,
  getItem,
  releaseItem,
  renewLease,
  requeueItem,
  saveCheckpoint,
} from '../../state/items.js';
import { itemsOfRun, putItems } from '../../state/item-bulk.js';
import { countByStatus, itemsByStatus } from '../../state/status-index.js';
import { isFirstClaim, type ItemRow, type ItemStatus, type ItemStore, type NewItem } from '../../state/item-row.js';
import { statusKey } from '../../state/schema.js';
import { freshEnv, startTestStack, type TestEnv, type TestStack } from '../helpers/stack.js';

let t: TestStack;
let env: TestEnv;
/** the injected clock: tests move it by hand */
let clockMs: number;
let store: ItemStore;
const RUN = 'run-sm';
const LEASE_MS = 5_000;
const ref = (itemId: string) => ({ runId: RUN, itemId });
const newItem = (itemId: string, spec: Record<string, unknown> = {}): NewItem => ({
  itemId,
  kind: 'test',
  group: 'g',
  spec,
});

beforeAll(async () => {
  t = await startTestStack();
});
afterAll(async () => t?.close());
beforeEach(async () => {
  env?.close();
  env = await freshEnv(t.stack);
  clockMs = 1_000_000;
  store = { ddb: env.ctx.items.ddb, table: env.ctx.items.table, now: () => clockMs };
});
afterAll(() => env?.close());

async function row(itemId: string): Promise<ItemRow & { statusKey?: string }> {
  const r = await getItem(store, RUN, itemId);
  if (!r) throw new Error(`no row for ${itemId}`);
  return r;
}

async function idsByStatus(status: ItemStatus): Promise<string[]> {
  const ids: string[] = [];
  for await (const page of itemsByStatus(store, RUN, status)) ids.push(...page.map((i) => i.itemId));
  return ids.sort();
}

describe('claim', () => {
  it('takes a pending item: leased, owner and expiry set, attempts + 1, status index moved', async () => {
    await putItems(store, RUN, [newItem('a')], { skipExisting: false });
    expect(await row('a')).toMatchObject({ status: 'pending', attempts: 0, statusKey: statusKey(RUN, 'pending', 'a') });
    const c = await claimItem(store, ref('a'), 'w1', LEASE_MS);
    expect(c.outcome).toBe('claimed');
    const r = await row('a');
    expect(r).toMatchObject({
      status: 'leased',
      leaseOwner: 'w1',
      leaseExpiresAtMs: clockMs + LEASE_MS,
      attempts: 1,
      worker: 'w1',
      startedAtMs: clockMs,
      statusKey: statusKey(RUN, 'leased', 'a'),
    });
    expect(r.history?.map((h) => h.event)).toEqual(['claimed']);
    expect(await idsByStatus('pending')).toEqual([]);
    expect(await idsByStatus('leased')).toEqual(['a']);
  });

  it('a live lease is held: the second claimer is told when it ends and nothing changes', async () => {
    await putItems(store, RUN, [newItem('a')], { skipExisting: false });
    await claimItem(store, ref('a'), 'w1', LEASE_MS);
    const before = await row('a');
    clockMs += LEASE_MS - 1;
    const c = await claimItem(store, ref('a'), 'w2', LEASE_MS);
    expect(c).toMatchObject({ outcome: 'held', leaseExpiresAtMs: before.leaseExpiresAtMs });
    expect(await row('a')).toEqual(before);
  });

  it('takes over an expired lease (crashed owner): attempts + 1, new owner', async () => {
    await putItems(store, RUN, [newItem('a')], { skipExisting: false });
    await claimItem(store, ref('a'), 'dead', LEASE_MS);
    clockMs += LEASE_MS + 1;
    const c = await claimItem(store, ref('a'), 'w2', LEASE_MS);
    expect(c.outcome).toBe('claimed');
    expect(await row('a')).toMatchObject({
      status: 'leased',
      leaseOwner: 'w2',
      attempts: 2,
      leaseExpiresAtMs: clockMs + LEASE_MS,
    });
  });

  it('takes over a lease row written as already expired (a crash faked by writing state)', async () => {
    await putItems(store, RUN, [newItem('a')], { skipExisting: false });
    await env.ctx.items.ddb.send(
      new UpdateCommand({
        TableName: store.table,
        Key: { runId: RUN, itemId: 'a' },
        UpdateExpression: 'SET #st = :l, statusKey = :sk, leaseOwner = :o, leaseExpiresAtMs = :e, attempts = :one',
        ExpressionAttributeNames: { '#st': 'status' },
        ExpressionAttributeValues: {
          ':l': 'leased',
          ':sk': statusKey(RUN, 'leased', 'a'),
          ':o': 'crashed',
          ':e': clockMs - 1,
          ':one': 1,
        },
      }),
    );
    const c = await claimItem(store, ref('a'), 'w2', LEASE_MS);
    expect(c.outcome).toBe('claimed');
    expect(await row('a')).toMatchObject({ leaseOwner: 'w2', attempts: 2 });
  });

  it('two workers racing for one item: exactly one wins, every time', async () => {
    const ids = Array.from({ length: 20 }, (_, i) => `race-${i}`);
    await putItems(
      store,
      RUN,
      ids.map((id) => newItem(id)),
      { skipExisting: false },
    );
    const results = await Promise.all(
      ids.map(async (id) => {
        const [a, b] = await Promise.all([
          claimItem(store, ref(id), 'wA', LEASE_MS),
          claimItem(store, ref(id), 'wB', LEASE_MS),
        ]);
        return { id, outcomes: [a.outcome, b.outcome].sort() };
      }),
    );
    for (const r of results) expect(r.outcomes, r.id).toEqual(['claimed', 'held']);
    for (const id of ids) expect((await row(id)).attempts).toBe(1);
  });

  it('claim of a done item, a failed item and a missing one changes nothing', async () => {
    await putItems(store, RUN, [newItem('d'), newItem('f')], { skipExisting: false });
    await claimItem(store, ref('d'), 'w1', LEASE_MS);
    await completeItem(store, ref('d'), 'w1', { bytes: 1, objects: 1, durationMs: 1 });
    await claimItem(store, ref('f'), 'w1', LEASE_MS);
    await failItem(store, ref('f'), 'w1', { errorClass: 'X', message: 'x', retryable: false }, { retry: false });
    const d0 = await row('d');
    const f0 = await row('f');
    clockMs += 10 * LEASE_MS;
    expect((await claimItem(store, ref('d'), 'w2', LEASE_MS)).outcome).toBe('done');
    expect((await claimItem(store, ref('f'), 'w2', LEASE_MS)).outcome).toBe('failed');
    expect((await claimItem(store, ref('nope'), 'w2', LEASE_MS)).outcome).toBe('missing');
    expect(await row('d')).toEqual(d0);
    expect(await row('f')).toEqual(f0);
    expect(await getItem(store, RUN, 'nope')).toBeUndefined();
  });
});

describe('transitions owned by the lease holder', () => {
  beforeEach(async () => {
    await putItems(store, RUN, [newItem('a')], { skipExisting: false });
    await claimItem(store, ref('a'), 'w1', LEASE_MS);
  });

  it('renew extends the lease', async () => {
    clockMs += 1_000;
    expect(await renewLease(store, ref('a'), 'w1', LEASE_MS)).toBe('ok');
    expect((await row('a')).leaseExpiresAtMs).toBe(clockMs + LEASE_MS);
  });

  it('complete: done, metrics kept, lease and status-index key removed', async () => {
    clockMs += 500;
    expect(await completeItem(store, ref('a'), 'w1', { bytes: 10, objects: 2, durationMs: 500 })).toBe('ok');
    const r = await row('a');
    expect(r).toMatchObject({
      status: 'done',
      metrics: { bytes: 10, objects: 2, durationMs: 500 },
      finishedAtMs: clockMs,
      attempts: 1,
    });
    expect(r.leaseOwner).toBeUndefined();
    expect(r.leaseExpiresAtMs).toBeUndefined();
    expect(r.statusKey).toBeUndefined();
    for (const s of ['pending', 'leased', 'retrying', 'failed'] as const)
      expect(await countByStatus(store, RUN, s)).toBe(0);
    expect(r.history?.map((h) => h.event)).toEqual(['claimed', 'completed']);
  });

  it('fail with retry: retrying with the next attempt time and the error; the next claim counts attempt 2', async () => {
    const err = { errorClass: 'SERVICE_UNAVAILABLE', message: 'down', retryable: true };
    expect(await failItem(store, ref('a'), 'w1', err, { retry: true, nextAttemptAtMs: clockMs + 700 })).toBe('ok');
    const r = await row('a');
    expect(r).toMatchObject({
      status: 'retrying',
      lastError: err,
      nextAttemptAtMs: clockMs + 700,
      statusKey: statusKey(RUN, 'retrying', 'a'),
    });
    expect(r.leaseOwner).toBeUndefined();
    expect(await idsByStatus('retrying')).toEqual(['a']);
    clockMs += 700;
    const c = await claimItem(store, ref('a'), 'w2', LEASE_MS);
    expect(c.outcome).toBe('claimed');
    const r2 = await row('a');
    expect(r2).toMatchObject({ status: 'leased', attempts: 2, leaseOwner: 'w2' });
    expect(r2.nextAttemptAtMs).toBeUndefined();
  });

  it('a retrying item cannot be claimed before its backoff ends (a duplicate message must not cut it short)', async () => {
    const err = { errorClass: 'THROTTLED', message: 'slow down', retryable: true };
    await failItem(store, ref('a'), 'w1', err, { retry: true, nextAttemptAtMs: clockMs + 4_000 });
    const before = await row('a');
    clockMs += 3_999;
    expect(await claimItem(store, ref('a'), 'w2', LEASE_MS)).toMatchObject({
      outcome: 'held',
      leaseExpiresAtMs: before.nextAttemptAtMs,
    });
    expect(await row('a')).toEqual(before);
    clockMs += 1;
    expect((await claimItem(store, ref('a'), 'w2', LEASE_MS)).outcome).toBe('claimed');
  });

  it('fail without retry: failed with its class, findable by status', async () => {
    const err = { errorClass: 'SOURCE_MISSING', message: 'gone', retryable: false };
    expect(await failItem(store, ref('a'), 'w1', err, { retry: false })).toBe('ok');
    expect(await row('a')).toMatchObject({
      status: 'failed',
      lastError: err,
      finishedAtMs: clockMs,
      statusKey: statusKey(RUN, 'failed', 'a'),
    });
    expect(await idsByStatus('failed')).toEqual(['a']);
    expect(await countByStatus(store, RUN, 'failed')).toBe(1);
  });

  it('release: pending again and the attempt not counted', async () => {
    expect(await releaseItem(store, ref('a'), 'w1')).toBe('ok');
    const r = await row('a');
    expect(r).toMatchObject({ status: 'pending', attempts: 0, statusKey: statusKey(RUN, 'pending', 'a') });
    expect(r.leaseOwner).toBeUndefined();
    const again = await claimItem(store, ref('a'), 'w2', LEASE_MS);
    expect(again.outcome).toBe('claimed');
    expect((await row('a')).attempts).toBe(1);
    // attempt 1 again, but not the first claim: the released one may have written (isFirstClaim)
    expect(again.outcome === 'claimed' && isFirstClaim(again.item)).toBe(false);
  });

  it('isFirstClaim: true for the claim that returned a new item, false after a retry, a release or a requeue', async () => {
    await putItems(store, RUN, [newItem('b'), newItem('c')], { skipExisting: false });
    const first = await claimItem(store, ref('b'), 'w1', LEASE_MS);
    expect(first.outcome === 'claimed' && isFirstClaim(first.item)).toBe(true);
    await failItem(store, ref('b'), 'w1', { errorClass: 'X', message: 'x', retryable: false }, { retry: false });
    expect(await requeueItem(store, ref('b'))).toBe('ok');
    const requeued = await claimItem(store, ref('b'), 'w1', LEASE_MS);
    expect(requeued.outcome === 'claimed' && requeued.item.attempts).toBe(1);
    expect(requeued.outcome === 'claimed' && isFirstClaim(requeued.item)).toBe(false);
    await claimItem(store, ref('c'), 'w1', LEASE_MS);
    await failItem(
      store,
      ref('c'),
      'w1',
      { errorClass: 'X', message: 'x', retryable: true },
      { retry: true, nextAttemptAtMs: clockMs },
    );
    const retried = await claimItem(store, ref('c'), 'w1', LEASE_MS);
    expect(retried.outcome === 'claimed' && isFirstClaim(retried.item)).toBe(false);
  });

  it('requeue: only a failed item, back to pending with a fresh attempt budget, last error kept', async () => {
    expect(await requeueItem(store, ref('a'))).toBe('not-failed');
    const err = { errorClass: 'X', message: 'x', retryable: true };
    await failItem(store, ref('a'), 'w1', err, { retry: false });
    expect(await requeueItem(store, ref('a'))).toBe('ok');
    const r = await row('a');
    expect(r).toMatchObject({
      status: 'pending',
      attempts: 0,
      lastError: err,
      statusKey: statusKey(RUN, 'pending', 'a'),
    });
    expect(r.finishedAtMs).toBeUndefined();
    expect(await requeueItem(store, ref('a'))).toBe('not-failed');
    expect(r.history?.map((h) => h.event)).toEqual(['claimed', 'failed', 'requeued']);
  });

  it('checkpoint: saved by the owner only', async () => {
    expect(await saveCheckpoint(store, ref('a'), 'w1', { after: 'k9' }, { objects: 3 })).toBe('ok');
    expect(await saveCheckpoint(store, ref('a'), 'intruder', { after: 'zz' })).toBe('lease-lost');
    expect((await row('a')).checkpoint).toEqual({ after: 'k9' });
  });

  it('a stale owner that lost its lease gets lease-lost on renew, complete, fail and release; the row is unchanged', async () => {
    clockMs += LEASE_MS + 1;
    expect((await claimItem(store, ref('a'), 'w2', LEASE_MS)).outcome).toBe('claimed');
    const taken = await row('a');
    const err = { errorClass: 'X', message: 'x', retryable: true };
    expect(await renewLease(store, ref('a'), 'w1', LEASE_MS)).toBe('lease-lost');
    expect(await completeItem(store, ref('a'), 'w1', { bytes: 1, objects: 1, durationMs: 1 })).toBe('lease-lost');
    expect(await failItem(store, ref('a'), 'w1', err, { retry: true, nextAttemptAtMs: clockMs })).toBe('lease-lost');
    expect(await failItem(store, ref('a'), 'w1', err, { retry: false })).toBe('lease-lost');
    expect(await releaseItem(store, ref('a'), 'w1')).toBe('lease-lost');
    expect(await row('a')).toEqual(taken);
    // and the new owner still can
    expect(await completeItem(store, ref('a'), 'w2', { bytes: 1, objects: 1, durationMs: 1 })).toBe('ok');
  });

  it('no owned transition works on an item that is not leased', async () => {
    await completeItem(store, ref('a'), 'w1', { bytes: 1, objects: 1, durationMs: 1 });
    const done = await row('a');
    expect(await completeItem(store, ref('a'), 'w1', { bytes: 2, objects: 2, durationMs: 2 })).toBe('lease-lost');
    expect(await renewLease(store, ref('a'), 'w1', LEASE_MS)).toBe('lease-lost');
    expect(await releaseItem(store, ref('a'), 'w1')).toBe('lease-lost');
    expect(await row('a')).toEqual(done);
  });
});

describe('putItems', () => {
  it('writes more than one batch, and with skipExisting keeps existing rows and returns only new ones', async () => {
    const first = Array.from({ length: 60 }, (_, i) => newItem(`p-${String(i).padStart(3, '0')}`, { v: 1 }));
    expect((await putItems(store, RUN, first, { skipExisting: false })).length).toBe(60);
    await claimItem(store, ref('p-000'), 'w1', LEASE_MS);
    const claimed = await row('p-000');
    const second = Array.from({ length: 80 }, (_, i) => newItem(`p-${String(i).padStart(3, '0')}`, { v: 2 }));
    const written = await putItems(store, RUN, second, { skipExisting: true });
    expect(written.map((i) => i.itemId)).toEqual(second.slice(60).map((i) => i.itemId));
    expect(await row('p-000')).toEqual(claimed);
    expect((await row('p-059')).spec).toEqual({ v: 1 });
    expect((await row('p-079')).spec).toEqual({ v: 2 });
    let n = 0;
    for await (const page of itemsOfRun(store, RUN, { pageSize: 30 })) n += page.length;
    expect(n).toBe(80);
    expect(await countByStatus(store, RUN, 'pending')).toBe(79);
  });

  it('an id given twice in one call is written once (BatchWriteItem would refuse the whole batch)', async () => {
    const written = await putItems(store, RUN, [newItem('x', { v: 1 }), newItem('y'), newItem('x', { v: 2 })], {
      skipExisting: false,
    });
    expect(written.map((i) => i.itemId)).toEqual(['x', 'y']);
    expect((await row('x')).spec).toEqual({ v: 1 });
    const again = await putItems(store, RUN, [newItem('z'), newItem('z'), newItem('x')], { skipExisting: true });
    expect(again.map((i) => i.itemId)).toEqual(['z']);
  });

  it('retries UnprocessedItems and UnprocessedKeys until every row is written (faults injected in the SDK stack)', async () => {
    // dynalite never throttles, so a middleware on a dedicated client does what DynamoDB does
    // under load: it sends only part of each batch and hands the rest back as unprocessed.
    const clients = makeStateClients(env.config.state);
    let unprocessedPuts = 0;
    let unprocessedKeys = 0;
    clients.ddb.middlewareStack.add(
      (next) => async (args) => {
        const input = args.input as { RequestItems?: Record<string, any> };
        const entries = input.RequestItems?.[store.table];
        if (Array.isArray(entries) && entries.length > 1) {
          const keep = entries.slice(0, Math.ceil(entries.length / 2));
          const rest = entries.slice(keep.length);
          unprocessedPuts += rest.length;
          const out = await next({ ...args, input: { ...input, RequestItems: { [store.table]: keep } } });
          (out.output as any).UnprocessedItems = { [store.table]: rest };
          return out;
        }
        const get = input.RequestItems?.[store.table] as { Keys?: unknown[] } | undefined;
        if (get && Array.isArray(get.Keys) && get.Keys.length > 1) {
          const keep = get.Keys.slice(0, Math.ceil(get.Keys.length / 2));
          const rest = get.Keys.slice(keep.length);
          unprocessedKeys += rest.length;
          const out = await next({
            ...args,
            input: { ...input, RequestItems: { [store.table]: { ...get, Keys: keep } } },
          });
          (out.output as any).UnprocessedKeys = { [store.table]: { ...get, Keys: rest } };
          return out;
        }
        return next(args);
      },
      { step: 'initialize', name: 'injectUnprocessed' },
    );
    try {
      const faulty: ItemStore = { ddb: clients.ddb, table: store.table, now: store.now };
      const items = Array.from({ length: 40 }, (_, i) => newItem(`u-${String(i).padStart(3, '0')}`));
      expect((await putItems(faulty, RUN, items, { skipExisting: false })).length).toBe(40);
      expect(unprocessedPuts).toBeGreaterThan(20);
      expect(await countByStatus(store, RUN, 'pending')).toBe(40);
      const more = Array.from({ length: 50 }, (_, i) => newItem(`u-${String(i).padStart(3, '0')}`));
      const written = await putItems(faulty, RUN, more, { skipExisting: true });
      expect(unprocessedKeys).toBeGreaterThan(20);
      expect(written.map((i) => i.itemId)).toEqual(more.slice(40).map((i) => i.itemId));
      expect(await countByStatus(store, RUN, 'pending')).toBe(50);
    } finally {
      clients.destroy();
    }
  });
});
