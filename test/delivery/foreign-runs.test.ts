/**
 * Deliveries nobody acts on must not push pending items into the DLQ, and pending
 * items that are in the DLQ anyway are seen and recovered. Real `convoy worker --run` processes
 * and CLI commands against a local stack whose work queue has a small maxReceiveCount (2), so
 * SQS's redrive would act within seconds.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { runStatus } from '../../coordinator/status.js';
import { GetQueueAttributesCommand, SetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { putObjects } from '../fixtures/s3-data.js';
import { exited, runCli, spawnWorker, writeCliConfig } from '../helpers/cli.js';
import { freshEnv, startTestStack, waitUntil, type TestEnv, type TestStack } from '../helpers/stack.js';

const MAX_RECEIVES = 2;
let t: TestStack;

beforeAll(async () => {
  t = await startTestStack();
  const local = t.stack.remotes.local!;
  const s3 = new S3Client({
    endpoint: local.endpoint,
    region: local.region,
    forcePathStyle: true,
    credentials: { accessKeyId: local.accessKeyId, secretAccessKey: local.secretAccessKey },
  });
  // 6 top-level keys, --range-keys 2: three range items per run
  await putObjects(
    s3,
    'fr-src',
    Array.from({ length: 6 }, (_, i) => ({ key: `k${i}`, size: 64, contentType: 'text/plain' })),
  );
  s3.destroy();
});
afterAll(() => t?.close());

/** A fresh env whose work queue sends a message to the DLQ after MAX_RECEIVES receives. */
async function smallRedriveEnv(): Promise<{ env: TestEnv; config: string }> {
  const env = await freshEnv(t.stack);
  const sqs = env.ctx.queue.sqs;
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: env.ctx.queue.dlqUrl, AttributeNames: ['QueueArn'] }),
  );
  await sqs.send(
    new SetQueueAttributesCommand({
      QueueUrl: env.ctx.queue.queueUrl,
      Attributes: {
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: Attributes!.QueueArn, maxReceiveCount: MAX_RECEIVES }),
      },
    }),
  );
  return { env, config: writeCliConfig(env) };
}

async function plan(config: string, runId: string): Promise<void> {
  const r = await runCli(
    [
      'plan',
      's3-sync',
      '--run',
      runId,
      '--from',
      'local:fr-src',
      '--to',
      `local:fr-dst-${runId.toLowerCase()}`,
      '--create-buckets',
      '--range-keys',
      '2',
    ],
    { config },
  );
  expect(r.code, r.stderr).toBe(0);
}

async function status(
  config: string,
  runId: string,
): Promise<{ run: { state: string }; counts: Record<string, number>; total: number }> {
  const r = await runCli(['status', '--run', runId, '--json'], { config });
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

const workerArgs = ['--wait-seconds', '1', '--concurrency', '4'];

describe('deliveries a worker will not act on', () => {
  it('a run no live worker serves stays pending and out of the DLQ while --run R1 workers look at its messages; a worker for R2 then finishes it', async () => {
    const { env, config } = await smallRedriveEnv();
    await Promise.all([plan(config, 'R1'), plan(config, 'R2')]);
    const r2Items = (await runStatus(env.ctx, 'R2')).total;
    expect(r2Items).toBeGreaterThan(0);
    const r1Workers = [0, 1].map(() =>
      spawnWorker(config, [...workerArgs, '--run', 'R1'], { CONVOY_LOG_LEVEL: 'debug' }),
    );
    const foreignLooks = () =>
      r1Workers.reduce(
        (n, w) =>
          n +
          w
            .output()
            .split('\n')
            .filter((l) => l.includes('does not serve') && l.includes('"runId":"R2"')).length,
        0,
      );
    try {
      // Every R2 message delivered more often than the queue's maxReceiveCount allows, or SQS
      // moved some to the DLQ (the defect): whichever comes first.
      await waitUntil(
        async () => foreignLooks() > (MAX_RECEIVES + 1) * r2Items || (await env.ctx.queue.depth()).dlqVisible > 0,
        {
          timeoutMs: 40_000,
          intervalMs: 200,
          what: `R2 messages delivered more than ${MAX_RECEIVES} times each`,
        },
      );
      expect((await runStatus(env.ctx, 'R1')).run.state).toBe('done');
      expect((await runStatus(env.ctx, 'R2')).counts.pending).toBe(r2Items);
      expect((await env.ctx.queue.depth()).dlqVisible, 'R2 messages in the DLQ').toBe(0);
    } finally {
      for (const w of r1Workers) w.kill('SIGTERM');
      for (const w of r1Workers) expect(await exited(w), w.output()).toBe(0);
    }
    const r2Worker = spawnWorker(config, [...workerArgs, '--run', 'R2', '--exit-when-idle', '1000']);
    expect(await exited(r2Worker), r2Worker.output()).toBe(0);
    expect((await status(config, 'R2')).run.state).toBe('done');
    env.close();
  }, 90_000);

  it('pending items whose messages sit in the DLQ: monitor --stuck names them, requeue and reconcile send them back and leave no stale copies', async () => {
    const { env, config } = await smallRedriveEnv();
    await plan(config, 'R3');
    const total = (await runStatus(env.ctx, 'R3')).total;
    // What SQS's redrive did to R2 before the fix: the messages of pending items moved to the DLQ.
    const toDlq = async () => {
      let moved = 0;
      await waitUntil(
        async () => {
          for (const m of await env.ctx.queue.receive({ max: 10, waitSeconds: 0, visibilitySeconds: 30 })) {
            await env.ctx.queue.moveToDlq(m);
            moved++;
          }
          return moved >= total;
        },
        { what: 'R3 messages moved to the DLQ' },
      );
      expect(await env.ctx.queue.depth()).toMatchObject({ visible: 0, dlqVisible: total });
    };
    await toDlq();

    const stuck = await runCli(['monitor', '--run', 'R3', '--stuck'], { config });
    expect(stuck.code, stuck.stderr).toBe(0);
    expect(stuck.stdout).toMatch(new RegExp(`${total} stuck item\\(s\\)`));
    expect(stuck.stdout.match(/in-dlq/g)).toHaveLength(total);

    const requeue = await runCli(['requeue', '--run', 'R3'], { config });
    expect(requeue.code, requeue.stderr).toBe(0);
    expect(requeue.stdout).toContain(
      `requeued 0 item(s); removed ${total} DLQ message(s) (${total} of them for pending items, sent back to the queue)`,
    );
    expect(await env.ctx.queue.depth()).toMatchObject({ visible: total, dlqVisible: 0 });

    await toDlq();
    const reconcile = await runCli(['reconcile', '--run', 'R3', '--grace-ms', '0'], { config });
    expect(reconcile.code, reconcile.stderr).toBe(0);
    expect(reconcile.stdout).toContain(`removed ${total} stale message(s)`);
    const depth = await env.ctx.queue.depth();
    expect(depth.dlqVisible, 'stale DLQ copies left by reconcile').toBe(0);
    expect(depth.visible).toBeGreaterThanOrEqual(total);

    const worker = spawnWorker(config, [...workerArgs, '--exit-when-idle', '1000']);
    expect(await exited(worker), worker.output()).toBe(0);
    expect((await status(config, 'R3')).run.state).toBe('done');
    expect((await env.ctx.queue.depth()).dlqVisible).toBe(0);
    env.close();
  }, 60_000);
});
