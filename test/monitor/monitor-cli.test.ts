/**
 * The monitor as an operator uses it, with the real CLI against a local stack and real workers:
 *  - after a worker is killed holding leases, the ETA waits for those leases (not "1 s");
 *  - a paused run whose items are all finished says so.
 * (The fleet view and --watch without --run: monitor-fleet.test.ts.)
 * s3-sync runs slowed by --tpslimit give items that take a known while.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { afterEach, describe, expect, it } from 'vitest';
import { controlRun } from '../../coordinator/run-control.js';
import { countByStatus } from '../../state/status-index.js';
import { exited, runCli, spawnWorker, writeCliConfig } from '../helpers/cli.js';
import { useTwoEndpointStack } from '../helpers/s3.js';
import { freshEnv, waitUntil, type TestEnv, type TestStack } from '../helpers/stack.js';
import { cliJson, itemRows, planSync, seedObjects, waitFinished } from '../fleet-accounting/helpers.js';

let t: TestStack;
let minio: S3Client;
useTwoEndpointStack((s) => ({ t, minio } = s));

const children: Array<ReturnType<typeof spawnWorker>> = [];
afterEach(async () => {
  for (const c of children.splice(0)) {
    if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
    await exited(c);
  }
});

const worker = (config: string, id: string, ...args: string[]) => {
  // one process per worker id, killed -9 by pid below (--processes 1: the worker alone)
  const w = spawnWorker(config, [
    '--processes',
    '1',
    '--worker-id',
    id,
    '--wait-seconds',
    '1',
    '--threads',
    '1',
    ...args,
  ]);
  children.push(w);
  return w;
};
const leasedBy = async (env: TestEnv, runId: string) => countByStatus(env.ctx.items, runId, 'leased');

describe('convoy monitor (CLI)', () => {
  it("after kill -9 the ETA waits for the dead worker's leases, and says so", async () => {
    await seedObjects(minio, 'eta-src', 'd', 24, () => 1000);
    const env = await freshEnv(t.stack);
    const config = writeCliConfig(env);
    await planSync(config, [
      '--from',
      'minio:eta-src',
      '--to',
      'local:eta-dst',
      '--create-buckets',
      '--range-keys',
      '4',
      '--tpslimit',
      '2',
      '--run',
      'eta',
    ]);
    const a = worker(config, 'eta-a', '--concurrency', '3', '--lease-ms', '30000');
    await waitUntil(async () => (await leasedBy(env, 'eta')) >= 2, {
      timeoutMs: 30_000,
      what: 'worker A holding 2 leases',
    });
    a.kill('SIGKILL');
    await exited(a);
    // A's heartbeat goes stale after 1 s (--stale-after 1); its leases still run ~25 s more.
    const s = await waitUntil(
      async () => {
        const j = await cliJson(config, ['monitor', '--run', 'eta', '--stale-after', '1']);
        return j.leaseWait?.items >= 2 ? j : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 200, what: 'the summary to count the items waiting for leases' },
    );
    expect(s.leaseWait.seconds).toBeGreaterThan(5);
    expect(s.etaSeconds).toBeGreaterThanOrEqual(s.leaseWait.seconds);
    const text = await runCli(['monitor', '--run', 'eta', '--stale-after', '1'], { config });
    expect(text.stdout).toMatch(/ETA .*waiting for \d+ leases to expire, ~\d+s/);
    env.close();
  }, 60_000);

  it('a paused run whose items all finished says so', async () => {
    await seedObjects(minio, 'pause-src', 'd', 8, () => 1000);
    const env = await freshEnv(t.stack);
    const config = writeCliConfig(env);
    // --range-keys 8: one range item (after the listing item), which takes ~4 s at 2 objects/s
    await planSync(config, [
      '--from',
      'minio:pause-src',
      '--to',
      'local:pause-dst',
      '--create-buckets',
      '--range-keys',
      '8',
      '--tpslimit',
      '2',
      '--run',
      'paused',
    ]);
    worker(config, 'pause-a', '--concurrency', '2');
    await waitUntil(
      async () => {
        const rows = await itemRows(env, 'paused');
        return (
          rows.some((r) => r.itemId.startsWith('range:') && r.status === 'leased') &&
          !rows.some((r) => r.status === 'pending')
        );
      },
      { timeoutMs: 30_000, intervalMs: 100, what: 'the range item in flight, nothing pending' },
    );
    // paused in-process (the code `convoy pause` runs): a CLI process takes longer to start on a
    // loaded machine than the item takes to finish
    expect((await controlRun(env.ctx, 'paused', 'pause')).to).toBe('paused');
    await waitFinished(env, 'paused');
    const s = await cliJson(config, ['monitor', '--run', 'paused']);
    expect(s.run.state).toBe('paused');
    expect(s.remaining).toBe(0);
    const text = (await runCli(['monitor', '--run', 'paused'], { config })).stdout;
    expect(text).toContain('paused with every item finished');
    env.close();
  }, 60_000);
});
