/**
 * DynamoDB's and SQS's size limits: dynalite refuses an item over 400 KB (409,600 bytes), as
 * DynamoDB does (it does not check the 1,024-byte sort key limit); fauxqs takes a SendMessageBatch
 * of any size, so a proxy refuses those over 256 KiB as SQS does. convoy
 * must refuse an item row it cannot keep (with the item's name) before writing anything, and split
 * a batch of messages by bytes as well as by count. (UnprocessedItems: items.test.ts and
 * tables/batch-writer.test.ts; run specs over 400 KB: run-spec.test.ts.)
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SQSClient } from '@aws-sdk/client-sqs';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../../shared/errors.js';
import { SQS_BATCH_MAX_BYTES, sqsBatches } from '../../shared/sqs-batches.js';
import { MESSAGE_HINT_MAX_CHARS, WorkQueue } from '../../shared/work-queue.js';
import { claimItem, failItem } from '../../state/items.js';
import { itemsOfRun, MAX_NEW_ITEM_ROW_BYTES, putItems } from '../../state/item-bulk.js';
import { freshEnv, startTestStack, type TestEnv, type TestStack } from '../helpers/stack.js';

let t: TestStack;
let env: TestEnv;
beforeAll(async () => {
  t = await startTestStack();
  env = await freshEnv(t.stack);
}, 60_000);
afterAll(async () => {
  env?.close();
  await t?.close();
});

const KB = 1024;
const item = (itemId: string, specBytes: number) => ({
  itemId,
  kind: 's3-sync',
  group: 'g',
  spec: { blob: 'x'.repeat(specBytes) },
});

async function rows(runId: string) {
  const out = [];
  for await (const page of itemsOfRun(env.ctx.items, runId)) out.push(...page);
  return out;
}

describe('DynamoDB item limits (dynalite enforces 400 KB)', () => {
  it('the backend refuses a row over 400 KB, with an error that names nothing', async () => {
    const put = env.ctx.items.ddb.send(
      new PutCommand({
        TableName: env.ctx.items.table,
        Item: { runId: 'raw', itemId: 'big', blob: 'x'.repeat(410 * KB) },
      }),
    );
    await expect(put).rejects.toThrow(/Item size has exceeded the maximum allowed size/);
  });

  it('an item row over the limit is refused by name before any row of the call is written', async () => {
    const items = [item('ok-1', 10), item('huge', 420 * KB), item('ok-2', 10)];
    const err = await putItems(env.ctx.items, 'r-huge', items, { skipExisting: false }).catch((e) => e);
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toMatch(/item "huge" of run r-huge is \d+ bytes as a DynamoDB row, over 307200/);
    expect(await rows('r-huge')).toEqual([]);
  });

  it('a row DynamoDB would take but that leaves no room to grow (350 KB) is refused too', async () => {
    const err = await putItems(env.ctx.items, 'r-near', [item('near', 350 * KB)], { skipExisting: false }).catch(
      (e) => e,
    );
    expect(err).toBeInstanceOf(InputError);
    expect(await rows('r-near')).toEqual([]);
  });

  it('a row just under the limit is written and can still be worked (its history and error grow it)', async () => {
    const spec = MAX_NEW_ITEM_ROW_BYTES - 2 * KB;
    await putItems(env.ctx.items, 'r-under', [item('under', spec)], { skipExisting: false });
    const ref = { runId: 'r-under', itemId: 'under' };
    for (let attempt = 0; attempt < 5; attempt++) {
      expect((await claimItem(env.ctx.items, ref, `w${attempt}`, 60_000)).outcome).toBe('claimed');
      await failItem(
        env.ctx.items,
        ref,
        `w${attempt}`,
        { errorClass: 'SERVICE_UNAVAILABLE', message: 'e'.repeat(2 * KB), retryable: true },
        { retry: true, nextAttemptAtMs: 0 },
      );
    }
    const [row] = await rows('r-under');
    expect(row?.attempts).toBe(5);
  });

  it('an item id over the 1,024-byte sort key limit is refused by name', async () => {
    const err = await putItems(env.ctx.items, 'r-id', [item(`k/${'é'.repeat(520)}`, 10)], {
      skipExisting: false,
    }).catch((e) => e);
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toContain("over DynamoDB's 1024-byte sort key limit");
    expect(await rows('r-id')).toEqual([]);
  });
});

/**
 * fauxqs takes a SendMessageBatch of any size; SQS refuses one whose bodies pass 256 KiB with
 * BatchRequestTooLong. This proxy does the same and forwards the rest, noting each batch's size.
 */
async function batchLimitProxy(upstream: string) {
  const target = new URL(upstream);
  const state = { refused: 0, batches: [] as number[] };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (req.headers['x-amz-target'] === 'AmazonSQS.SendMessageBatch') {
        const entries = (JSON.parse(body.toString('utf8')) as { Entries: Array<{ MessageBody: string }> }).Entries;
        const bytes = entries.reduce((n, e) => n + Buffer.byteLength(e.MessageBody), 0);
        if (bytes > SQS_BATCH_MAX_BYTES) {
          state.refused++;
          const msg = JSON.stringify({
            __type: 'com.amazonaws.sqs#BatchRequestTooLong',
            message: `Batch requests cannot be longer than ${SQS_BATCH_MAX_BYTES} bytes. You have sent ${bytes} bytes.`,
          });
          res.writeHead(400, {
            'content-type': 'application/x-amz-json-1.0',
            'x-amzn-query-error': 'AWS.SimpleQueueService.BatchRequestTooLong;Sender',
          });
          res.end(msg);
          return;
        }
        state.batches.push(entries.length);
      }
      const fwd = http.request(
        { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
        (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        },
      );
      fwd.on('error', () => res.destroy());
      fwd.end(body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get refused() {
      return state.refused;
    },
    batches: state.batches,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

describe('SQS SendMessageBatch limits (256 KiB a batch, enforced by a proxy: fauxqs does not)', () => {
  /** `fn` with a WorkQueue whose sends go through a proxy that refuses batches over 256 KiB */
  const throughBatchLimit = async (
    fn: (queue: WorkQueue, proxy: Awaited<ReturnType<typeof batchLimitProxy>>) => Promise<void>,
  ) => {
    const proxy = await batchLimitProxy(t.stack.endpoints.sqs);
    const sqs = new SQSClient({
      endpoint: proxy.url,
      region: env.config.state.region,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      maxAttempts: 1,
    });
    try {
      await fn(new WorkQueue(sqs, env.ctx.queue.queueUrl, env.ctx.queue.dlqUrl), proxy);
    } finally {
      sqs.destroy();
      await proxy.close();
    }
  };

  it('splits batches by bytes as well as by count', () => {
    const body = (n: number) => 'm'.repeat(n);
    expect(
      sqsBatches(
        Array.from({ length: 25 }, () => body(10)),
        (b) => b,
      ).map((b) => b.length),
    ).toEqual([10, 10, 5]);
    const big = Array.from({ length: 10 }, () => body(60 * KB));
    expect(sqsBatches(big, (b) => b).map((b) => b.length)).toEqual([4, 4, 2]);
    expect(() => sqsBatches([body(SQS_BATCH_MAX_BYTES + 1)], (b) => b)).toThrow(/over the 262144-byte limit/);
  });

  it('ten messages of 40 KiB each (400 KiB together) all arrive where batches over 256 KiB are refused', async () => {
    await throughBatchLimit(async (queue, proxy) => {
      const refs = Array.from({ length: 10 }, (_, i) => ({ runId: 'sqs', itemId: `${i}-${'k'.repeat(40 * KB)}` }));
      await queue.sendItems(refs);
      expect(proxy.refused).toBe(0);
      expect(proxy.batches).toEqual([6, 4]);
      const got = new Set<string>();
      for (let round = 0; round < 10 && got.size < 10; round++)
        for (const m of await env.ctx.queue.receive({ max: 10, waitSeconds: 1, visibilitySeconds: 60 }))
          if (m.ref) got.add(m.ref.itemId);
      expect(got.size).toBe(10);
    });
  });

  it('messages with hints at the limit go in batches under 256 KiB and arrive with their hints; a hint over the limit is left out (by the sender, test/unit/carried-listing.test.ts; and a receiver ignores one)', async () => {
    await throughBatchLimit(async (queue, proxy) => {
      const hintOf = (i: number) => String(i).repeat(MESSAGE_HINT_MAX_CHARS);
      const items = Array.from({ length: 10 }, (_, i) => ({ runId: 'hints', itemId: `h${i}`, hint: hintOf(i) }));
      await queue.sendItems([
        ...items,
        { runId: 'hints', itemId: 'over', hint: 'x'.repeat(MESSAGE_HINT_MAX_CHARS + 1) },
      ]);
      expect(proxy.refused).toBe(0);
      expect(proxy.batches).toEqual([4, 4, 3]);
      const got = new Map<string, string | undefined>();
      for (let round = 0; round < 10 && got.size < 11; round++)
        for (const m of await env.ctx.queue.receive({ max: 10, waitSeconds: 1, visibilitySeconds: 60 }))
          if (m.ref?.runId === 'hints') got.set(m.ref.itemId, m.hint);
      expect(got.size).toBe(11);
      for (const [i, item] of items.entries()) expect(got.get(item.itemId)).toBe(hintOf(i));
      expect(got.get('over')).toBeUndefined();
    });
  });
});
