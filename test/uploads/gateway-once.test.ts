/**
 * The gateway step of a space, as one worker process with many uploads of that space in flight
 * sees it (the real worker, local stack, real UCAN peers): the gateway is authorized once, and
 * while that takes its time the process's other uploads of the space wait for it in the process
 * instead of each polling the step in DynamoDB (a claim and a read every 50 ms to 1 s per upload).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runStatus } from '../../coordinator/status.js';
import type { UploadPeers } from '../../worker/jobs/uploads/local-peers/start-peers.js';
import { planUploadsRun } from '../../worker/jobs/uploads/plan-command.js';
import { Worker } from '../../worker/worker.js';
import { startTestStack, waitUntil, type TestStack } from '../helpers/stack.js';
import { startUploadPeers, uploadsEnv } from './helpers.js';

let t: TestStack;
let peers: UploadPeers;
beforeAll(async () => {
  t = await startTestStack();
  peers = await startUploadPeers();
});
afterAll(async () => {
  await peers?.close();
  await t?.close();
});

describe('gateway step of a space, one worker process', () => {
  it('is authorized once, and the other uploads of the space wait in the process instead of polling the step', async () => {
    const env = await uploadsEnv(t.stack, peers, {
      customers: 1,
      spaces: 1,
      uploads: 24,
      seed: 'gateway-once',
      brokenRate: 0,
      noShardsRate: 0,
    });
    const space = env.seeded.uploads[0]!.space;
    // every request to the step's row (pk group#<run>#<group>), counted on the worker's own client
    const stepRequests: string[] = [];
    const ddb = env.ctx.meta.ddb;
    const send = ddb.send.bind(ddb) as (command: unknown, ...rest: unknown[]) => Promise<unknown>;
    (ddb as { send: unknown }).send = (
      command: { constructor: { name: string }; input?: { Key?: { pk?: unknown } } },
      ...rest: unknown[]
    ) => {
      if (String(command.input?.Key?.pk ?? '').startsWith('group#')) stepRequests.push(command.constructor.name);
      return send(command, ...rest);
    };
    // the gateway answers slowly: the first upload to claim the step holds it for 1.5 s
    peers.gateway.faults.latencyMs = 1_500;
    const gatewayBefore = peers.gateway.authorizations.get(space) ?? 0;
    try {
      const runId = 'gw-once';
      await planUploadsRun(env.ctx, { run: runId }, { backoffBaseMs: 50 });
      const worker = new Worker(env.ctx, {
        concurrency: 16,
        waitSeconds: 0,
        threads: 2,
        counterFlushMs: 200,
        heartbeatMs: 500,
        leaseMs: 20_000,
      });
      const done = worker.start();
      const status = await waitUntil(
        async () => {
          const s = await runStatus(env.ctx, runId);
          return s.run.state === 'done' ? s : undefined;
        },
        { timeoutMs: 120_000, what: `run ${runId} done` },
      );
      await worker.stop();
      await done;
      expect(status.counts.failed ?? 0).toBe(0);
    } finally {
      peers.gateway.faults.latencyMs = 0;
      (ddb as { send: unknown }).send = send;
      env.close();
    }
    expect((peers.gateway.authorizations.get(space) ?? 0) - gatewayBefore).toBe(1);
    // the one claim (UpdateCommand) and its completion (UpdateCommand); before, each waiting
    // upload claimed again (and read the row) until the step was done: dozens here
    expect(stepRequests, stepRequests.join(' ')).toEqual(['UpdateCommand', 'UpdateCommand']);
  });
});
