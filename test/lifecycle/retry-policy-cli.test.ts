/**
 * A run's retry policy is chosen when it is planned and applied by every worker: `convoy plan
 * <kind> --max-attempts N --backoff-base-ms B --backoff-cap-ms C` stores it on the run row, `status`
 * shows it, a re-plan with another policy is refused, and the worker has no retry flags of its
 * own (two workers can no longer disagree about one run). Driven as an operator would: the real
 * CLI in child processes, a source endpoint that goes down after planning.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { itemsOfRun } from '../../state/item-bulk.js';
import type { ItemRow } from '../../state/item-row.js';
import { getRun } from '../../state/runs.js';
import { putObjects } from '../fixtures/s3-data.js';
import { exited, runCli, spawnWorker, writeCliConfig } from '../helpers/cli.js';
import { useTwoEndpointStack } from '../helpers/s3.js';
import { freshEnv, waitUntil, type TestEnv, type TestStack } from '../helpers/stack.js';

let t: TestStack;
let minio: S3Client;
useTwoEndpointStack((s) => ({ t, minio } = s));

async function itemRows(env: TestEnv, runId: string): Promise<ItemRow[]> {
  const rows: ItemRow[] = [];
  for await (const page of itemsOfRun(env.ctx.items, runId)) rows.push(...page);
  return rows;
}

describe('the retry policy belongs to the run', () => {
  it('is set at plan time, shown by status, kept on re-plan, and applied by the worker', async () => {
    await putObjects(
      minio,
      'rp-src',
      Array.from({ length: 6 }, (_, i) => ({ key: `k/${i}.bin`, size: 100, contentType: 'application/octet-stream' })),
    );
    const env = await freshEnv(t.stack);
    const config = writeCliConfig(env);
    const sync = ['--from', 'minio:rp-src/k/', '--to', 'local:rp-dst/k/', '--create-buckets', '--range-keys', '2'];

    // bad policy: exit 2 naming the option, nothing written
    const bad = await runCli(['plan', 's3-sync', '--run', 'rp', ...sync, '--max-attempts', '0'], { config });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/invalid retry policy/);
    expect(bad.stderr).toMatch(/--max-attempts \(maxAttempts\): Too small/);
    expect(bad.stderr).not.toMatch(/\.js:\d+/); // no stack trace
    expect(await getRun(env.ctx.meta, 'rp')).toBeUndefined();

    // the options go on `plan` (before or after the kind's name)
    const policy = ['--max-attempts', '2', '--backoff-base-ms', '50', '--backoff-cap-ms', '100'];
    const plan = await runCli(['plan', 's3-sync', '--run', 'rp', ...sync, ...policy], { config });
    expect(plan.code, plan.stderr).toBe(0);
    expect((await getRun(env.ctx.meta, 'rp'))?.retry).toEqual({ maxAttempts: 2, backoffBaseMs: 50, backoffCapMs: 100 });
    const status = await runCli(['status', '--run', 'rp'], { config });
    expect(status.stdout).toContain('retry policy: 2 attempt(s), backoff 50ms..100ms (full jitter)');

    // the same plan again is a no-op; another policy is refused with the difference
    const again = await runCli(['plan', ...policy, 's3-sync', '--run', 'rp', ...sync], { config });
    expect(again.code, again.stderr).toBe(0);
    const other = await runCli(['plan', 's3-sync', '--run', 'rp', ...sync, '--max-attempts', '7'], { config });
    expect(other.code).toBe(2);
    expect(other.stderr).toContain('maxAttempts: 2 -> 7');
    expect(other.stderr).toMatch(/keeps the policy it was planned with/);
    expect((await getRun(env.ctx.meta, 'rp'))?.retry?.maxAttempts).toBe(2);

    // the worker has no retry flags: it says where they went, exit 2, no heartbeat written
    const flag = await runCli(['worker', '--max-attempts', '9', '--exit-when-idle', '100'], { config });
    expect(flag.code).toBe(2);
    expect(flag.stderr).toMatch(/--max-attempts: a run's retry policy is set when it is planned/);
    expect(flag.stderr).toContain('convoy plan <kind> --max-attempts ...');

    // The source goes down after planning (a worker config whose minio endpoint refuses
    // connections): every item fails retryably, is tried exactly twice (the run's policy, not the
    // worker's default of 5) and ends failed with its message in the DLQ.
    const { name: _n, ...m } = env.config.remotes.minio!;
    const down = writeCliConfig(env, { minio: { ...m, endpoint: 'http://127.0.0.1:9' } });
    const worker = spawnWorker(down, ['--wait-seconds', '1', '--concurrency', '4']);
    try {
      const planned = (await getRun(env.ctx.meta, 'rp'))!.plannedItems;
      expect(planned).toBeGreaterThan(0);
      const rows = await waitUntil(
        async () => {
          const r = await itemRows(env, 'rp');
          return r.length === planned && r.every((i) => i.status === 'failed') ? r : undefined;
        },
        { timeoutMs: 90_000, what: 'every item failed', intervalMs: 200 },
      );
      for (const row of rows) {
        expect(row.attempts, row.itemId).toBe(2);
        expect(row.lastError?.retryable, row.itemId).toBe(true);
      }
      await waitUntil(async () => (await env.ctx.queue.depth()).dlqVisible === planned, {
        what: `${planned} messages in the DLQ`,
        timeoutMs: 20_000,
      });
    } finally {
      worker.kill('SIGTERM');
      expect(await exited(worker), worker.output()).toBe(0);
    }
  });
});
