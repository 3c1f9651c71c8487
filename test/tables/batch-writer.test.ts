/**
 * The writer against real dynalite, with faults injected by an SDK middleware on the real client
 * (no fake client): every third BatchWriteItem throws ProvisionedThroughputExceededException
 * before it is sent, and the others send only half their items and report the rest as
 * UnprocessedItems, as a throttled table does. Nothing may be lost.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatchWriter, emptyStats } from '../../worker/jobs/table-io/batch-writer.js';
import { CapacityBudget } from '../../worker/budget/capacity-budget.js';
import { countTable } from '../../worker/jobs/dynamodb-copy/verify.js';
import { startTestStack, type TestStack } from '../helpers/stack.js';
import { createTable, ddbClient, receiptItem, suffix } from './helpers.js';

let t: TestStack;
beforeAll(async () => {
  t = await startTestStack();
});
afterAll(async () => t?.close());

function injectFaults(client: ReturnType<typeof ddbClient>, table: string) {
  let calls = 0;
  const counts = { throttled: 0, partial: 0 };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName !== 'BatchWriteItemCommand') return next(args);
      calls++;
      const input = args.input as { RequestItems: Record<string, unknown[]> };
      if (calls % 3 === 0) {
        counts.throttled++;
        const err = new Error('The level of configured provisioned throughput for the table was exceeded');
        err.name = 'ProvisionedThroughputExceededException';
        throw err;
      }
      const all = input.RequestItems[table]!;
      if (all.length < 2) return next(args);
      const keep = all.slice(0, Math.ceil(all.length / 2));
      const rest = all.slice(keep.length);
      const result = await next({ ...args, input: { ...input, RequestItems: { [table]: keep } } });
      const out = result.output as { UnprocessedItems?: Record<string, unknown[]> };
      out.UnprocessedItems = { [table]: [...(out.UnprocessedItems?.[table] ?? []), ...rest] };
      counts.partial++;
      return result;
    },
    { step: 'initialize', name: 'injectThrottling' },
  );
  return counts;
}

describe('BatchWriter', () => {
  it('loses nothing under injected throttling and UnprocessedItems', async () => {
    const client = ddbClient(t.stack);
    const table = `w-${suffix()}`;
    await createTable(client, table, { hash: 'PK', range: 'SK' });
    const counts = injectFaults(client, table);
    const writer = new BatchWriter({
      client,
      table,
      keys: ['PK', 'SK'],
      concurrency: 4,
      backoff: { baseMs: 2, capMs: 20 },
    });
    const items = Array.from({ length: 1000 }, (_, i) => receiptItem(i));
    const stats = await writer.writeAll(items);
    expect(counts.throttled).toBeGreaterThan(10);
    expect(counts.partial).toBeGreaterThan(10);
    expect(stats.throttles).toBe(counts.throttled);
    expect(stats.unprocessedRetries).toBeGreaterThan(10);
    expect(stats.written).toBe(1000);
    expect(await countTable(ddbClient(t.stack), table)).toBe(1000);
  });

  it("tells the table's adaptive rate control of every throttle and UnprocessedItems, and waits on it before every send", async () => {
    const client = ddbClient(t.stack);
    const table = `w-${suffix()}`;
    await createTable(client, table, { hash: 'PK', range: 'SK' });
    const counts = injectFaults(client, table);
    const seen = { acquires: 0, units: 0, throttled: 0 };
    const writer = new BatchWriter({
      client,
      table,
      keys: ['PK', 'SK'],
      concurrency: 4,
      backoff: { baseMs: 2, capMs: 20 },
      rates: {
        acquire: async (units) => {
          seen.acquires++;
          seen.units += units;
        },
        throttled: () => void seen.throttled++,
      },
    });
    const stats = await writer.writeAll(Array.from({ length: 300 }, (_, i) => receiptItem(i)));
    expect(stats.written).toBe(300);
    expect(seen.throttled).toBe(counts.throttled + counts.partial);
    // every BatchWriteItem sent waited for its units first: 12 batches, plus one send per retry
    expect(seen.acquires).toBe(Math.ceil(300 / 25) + counts.throttled + counts.partial);
    expect(seen.units).toBeGreaterThanOrEqual(300);
  });

  it('keeps within a WCU budget, settled by ConsumedCapacity', async () => {
    const client = ddbClient(t.stack);
    const table = `b-${suffix()}`;
    await createTable(client, table, { hash: 'PK', range: 'SK' });
    const budget = new CapacityBudget({ unitsPerSecond: 150 });
    const writer = new BatchWriter({ client, table, keys: ['PK', 'SK'], concurrency: 8, budget });
    const items = Array.from({ length: 450 }, (_, i) => receiptItem(i));
    const started = Date.now();
    const stats = await writer.writeAll(items, emptyStats());
    const elapsed = Date.now() - started;
    // 450 WCU at 150/s with a 150-unit bucket: at least 2 s
    expect(elapsed).toBeGreaterThanOrEqual(1800);
    expect(stats.written).toBe(450);
    expect(stats.consumedWcu).toBeGreaterThanOrEqual(450);
    expect(await countTable(client, table)).toBe(450);
  });

  it('rejects an item over 400 KB and an item without the key, naming it, before sending anything', async () => {
    const client = ddbClient(t.stack);
    const table = `r-${suffix()}`;
    await createTable(client, table, { hash: 'PK', range: 'SK' });
    const writer = new BatchWriter({ client, table, keys: ['PK', 'SK'] });
    const big = { ...receiptItem(1), blob: { S: 'x'.repeat(401 * 1024) } };
    await expect(writer.writeAll([receiptItem(0), big])).rejects.toMatchObject({
      errorClass: 'ITEM_TOO_LARGE',
      retryable: false,
      message: expect.stringContaining('IMAGE#0000001'),
    });
    const { SK: _sk, ...noSk } = receiptItem(2);
    await expect(writer.writeAll([noSk])).rejects.toMatchObject({
      errorClass: 'MISSING_KEY',
      message: expect.stringContaining('IMAGE#0000002'),
    });
    expect(await countTable(client, table)).toBe(0);
  });
});
