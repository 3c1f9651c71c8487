/**
 * A clean SIGTERM leaves nothing invisible: the items a worker gives back are visible at once.
 * A long poll its client aborts stays open on the server (fauxqs finishes it and hands its
 * messages to a closed socket; SQS may do the same) and would take them, hidden for the receive
 * visibility (10 s): a worker ends its poll only after its release, and a supervisor's children
 * only after every one of them has released (the release barrier, worker/host-link.ts). Real
 * `convoy worker` processes, alone and as a host of two; the source is an S3 proxy that holds
 * object reads open, so items are in flight. A third worker reaches its queue through a proxy that
 * holds every answer carrying messages for 300 ms: the released items' answer to its open poll is
 * still on the wire when its release is done, and an abort then loses it (a loaded suite run saw it once: 10 s).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { S3Client } from '@aws-sdk/client-s3';
import { runStatus } from '../../coordinator/status.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { putObjects } from '../fixtures/s3-data.js';
import { exited, runCli, spawnWorker, writeCliConfig } from '../helpers/cli.js';
import { startS3Proxy } from '../helpers/s3-proxy.js';
import { freshEnv, startTestStack, waitUntil, type TestStack } from '../helpers/stack.js';

let t: TestStack;
let proxy: Awaited<ReturnType<typeof startS3Proxy>>;
/** in front of the queue: answers that carry messages reach the worker 300 ms late */
let slowQueue: Awaited<ReturnType<typeof startS3Proxy>>;
const QUEUE_ANSWER_DELAY_MS = 300;
/** while set, object reads through the proxy hang (until the test ends) */
let holdReads = true;
let releaseHeld: () => void = () => undefined;
const held = new Promise<void>((r) => (releaseHeld = r));

beforeAll(async () => {
  t = await startTestStack();
  const local = t.stack.remotes.local!;
  const s3 = new S3Client({
    endpoint: local.endpoint,
    region: local.region,
    forcePathStyle: true,
    credentials: { accessKeyId: local.accessKeyId, secretAccessKey: local.secretAccessKey },
  });
  await putObjects(
    s3,
    'sd-src',
    [0, 1].map((i) => ({ key: `k${i}`, size: 64, contentType: 'text/plain' })),
  );
  s3.destroy();
  proxy = await startS3Proxy(local.endpoint, {
    async before(req) {
      // GET /sd-src/<key> (a read of an object; listings have no key) hangs while holdReads
      if (holdReads && req.method === 'GET' && /^\/sd-src\/[^?]+/.test(req.url ?? '')) {
        await held;
        return { status: 503, body: '<Error><Code>SlowDown</Code></Error>' };
      }
    },
  });
  slowQueue = await startS3Proxy(t.stack.state.endpoints.sqs!, {
    async holdAnswer(req, body) {
      if (req.headers['x-amz-target'] === 'AmazonSQS.ReceiveMessage' && body.includes('"ReceiptHandle"'))
        await sleep(QUEUE_ANSWER_DELAY_MS);
    },
  });
});
afterAll(async () => {
  releaseHeld();
  await slowQueue?.close();
  await proxy?.close();
  await t?.close();
});

describe('shutdown gives its items back visible', () => {
  it.each([
    ['a lone worker', '1', false],
    ['a host of two processes', '2', false],
    ['a lone worker whose queue answers take 300 ms on the wire', '1', true],
  ])(
    '%s: after SIGTERM with items in flight the queue shows 0 in flight within seconds, and a new worker takes the items at once',
    async (_, processes, slowAnswers) => {
      holdReads = true;
      const run = `sd${processes}${slowAnswers ? 's' : ''}`;
      const env = await freshEnv(t.stack);
      const local = t.stack.remotes.local!;
      const config = writeCliConfig(env, {
        slow: {
          endpoint: proxy.url,
          region: local.region,
          accessKeyId: local.accessKeyId,
          secretAccessKey: local.secretAccessKey,
          forcePathStyle: true,
        },
      });
      if (slowAnswers) {
        const file = JSON.parse(readFileSync(config, 'utf8'));
        file.state.endpoints = { ...file.state.endpoints, sqs: slowQueue.url };
        writeFileSync(config, JSON.stringify(file, null, 2));
      }
      const plan = await runCli(
        [
          'plan',
          's3-sync',
          '--run',
          run,
          '--from',
          'slow:sd-src',
          '--to',
          `local:sd-dst-${run}`,
          '--create-buckets',
          '--range-keys',
          '1',
        ],
        { config },
      );
      expect(plan.code, plan.stderr).toBe(0);
      const leased = async () => {
        const s = await runStatus(env.ctx, run);
        return s.counts.leased === s.total ? s : undefined;
      };

      // concurrency above the item count: each process sits in a long poll (20 s) when SIGTERM comes
      const first = spawnWorker(config, [
        '--concurrency',
        '4',
        '--shutdown-deadline-ms',
        '300',
        '--processes',
        processes,
      ]);
      const { total } = await waitUntil(leased, {
        timeoutMs: 30_000,
        intervalMs: 200,
        what: `items in flight; worker: ${first.output()}`,
      });
      expect(total).toBe(2);
      first.kill('SIGTERM');
      expect(await exited(first), first.output()).toBe(0);
      const exitedAt = Date.now();

      await waitUntil(async () => (await env.ctx.queue.depth()).inFlight === 0, {
        timeoutMs: 15_000,
        intervalMs: 100,
        what: 'no message in flight after the worker exited',
      });
      const clearedMs = Date.now() - exitedAt;

      holdReads = false;
      const second = spawnWorker(config, ['--concurrency', '4', '--wait-seconds', '1']);
      try {
        await waitUntil(async () => (await runStatus(env.ctx, run)).run.state === 'done', {
          timeoutMs: 20_000,
          intervalMs: 200,
          what: `the new worker finished the items; worker: ${second.output()}`,
        });
      } finally {
        second.kill('SIGTERM');
        expect(await exited(second), second.output()).toBe(0);
      }
      // well under the receive visibility (10 s) that a message taken by an aborted poll would wait out
      expect(clearedMs).toBeLessThan(3_000);
      const status = await runCli(['status', '--run', run], { config });
      expect(status.stdout).toMatch(/done/);
      env.close();
    },
    90_000,
  );
});
