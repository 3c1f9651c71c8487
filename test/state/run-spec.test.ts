/**
 * A spec too large for one DynamoDB item is stored gzipped in chunk rows and read back with
 * BatchGetItem (state/run-spec.ts): against the real local stack, including a service that hands
 * keys back unprocessed, as DynamoDB does when a response would pass 16 MB or a partition is busy.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeStateClients } from '../../shared/clients.js';
import { readSpec, storeSpec, type SpecStore } from '../../state/run-spec.js';
import { freshEnv, startTestStack, type TestEnv, type TestStack } from '../helpers/stack.js';

let t: TestStack;
let env: TestEnv;
let store: SpecStore;

beforeAll(async () => {
  t = await startTestStack();
  env = await freshEnv(t.stack);
  store = { ddb: env.ctx.meta.ddb, table: env.ctx.meta.table };
});
afterAll(async () => {
  env?.close();
  await t?.close();
});

/** ~1.2 MB of JSON that gzip cannot shrink much: several chunk rows. */
const bigSpec = () => ({ customers: Array.from({ length: 12_000 }, () => randomBytes(48).toString('base64')) });

describe('run specs over the inline limit', () => {
  it('are stored in chunk rows and read back whole', async () => {
    const spec = bigSpec();
    const stored = await storeSpec(store, 'run-big', spec);
    expect(stored.specRef?.chunks).toBeGreaterThan(1);
    expect(stored.spec).toEqual({});
    expect(await readSpec(store, 'run-big', stored)).toEqual(spec);
  });

  it('are read back whole when the service hands keys back unprocessed (faults injected)', async () => {
    const spec = bigSpec();
    const stored = await storeSpec(store, 'run-unprocessed', spec);
    const clients = makeStateClients(env.config.state);
    let handedBack = 0;
    // dynalite never does this: answer only the first key of each BatchGetItem, return the rest
    clients.ddb.middlewareStack.add(
      (next) => async (args) => {
        const input = args.input as { RequestItems?: Record<string, { Keys?: unknown[] }> };
        const get = input.RequestItems?.[store.table];
        if (!get?.Keys || get.Keys.length < 2) return next(args);
        const rest = get.Keys.slice(1);
        handedBack += rest.length;
        const out = await next({
          ...args,
          input: { RequestItems: { [store.table]: { ...get, Keys: get.Keys.slice(0, 1) } } },
        });
        (out.output as { UnprocessedKeys?: unknown }).UnprocessedKeys = { [store.table]: { ...get, Keys: rest } };
        return out;
      },
      { step: 'initialize', name: 'injectUnprocessedKeys' },
    );
    try {
      const faulty: SpecStore = { ddb: clients.ddb, table: store.table };
      expect(await readSpec(faulty, 'run-unprocessed', stored)).toEqual(spec);
      expect(handedBack).toBeGreaterThan(0);
    } finally {
      clients.destroy();
    }
  });
});
