/**
 * Counting a run exactly when a worker dies: worker A is killed with SIGKILL mid-run, after it
 * completed items it had not flushed to its counters yet, while it holds leases; worker B
 * finishes the run. Then what an operator reads must match the source bucket exactly:
 * `convoy status --json` and `convoy monitor --json` (copied + skipped objects and bytes), and
 * the dead worker leaves the live view after --gone-after (counted as gone, not listed).
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { afterEach, describe, expect, it } from 'vitest';
import { readCounterTotals } from '../../state/counters.js';
import { exited, spawnWorker, writeCliConfig } from '../helpers/cli.js';
import { listKeys, useTwoEndpointStack } from '../helpers/s3.js';
import { freshEnv, waitUntil, type TestStack } from '../helpers/stack.js';
import { cliJson, completedBy, itemRows, planSync, seedObjects, waitFinished } from './helpers.js';

let t: TestStack;
let minio: S3Client;
let local: S3Client;
useTwoEndpointStack((s) => ({ t, minio, local } = s));

const workers: Array<ReturnType<typeof spawnWorker>> = [];
afterEach(async () => {
  for (const w of workers.splice(0)) {
    if (w.exitCode === null && w.signalCode === null) w.kill('SIGTERM');
    await exited(w);
  }
});

/**
 * One worker process with a given id (--processes 1: no supervisor to restart it when killed),
 * short leases, so the killed worker's items come back to the other within seconds.
 */
function oneWorker(config: string, workerId: string) {
  const w = spawnWorker(config, [
    '--processes',
    '1',
    '--worker-id',
    workerId,
    '--concurrency',
    '3',
    '--lease-ms',
    '3000',
    '--wait-seconds',
    '1',
    '--threads',
    '1',
  ]);
  workers.push(w);
  return w;
}

describe('a worker killed with SIGKILL', () => {
  it('loses no counts: status and monitor match the source exactly, and the dead worker ages out', async () => {
    const N = 24;
    const { bytes: sourceBytes } = await seedObjects(minio, 'acct-src', 'data', N, (i) => 10_000 + i * 997);
    const env = await freshEnv(t.stack);
    const config = writeCliConfig(env);
    // slow enough (8 objects/s for the fleet) that A is killed with items done and items in hand
    await planSync(config, [
      '--from',
      'minio:acct-src',
      '--to',
      'local:acct-dst',
      '--create-buckets',
      '--range-keys',
      '2',
      '--tpslimit',
      '8',
      '--run',
      'acct',
    ]);

    // worker A is one process, killed -9 by pid below
    const a = oneWorker(config, 'doomed-a');
    // Kill A when it has completed items its counter row does not hold yet (counters flush every
    // 5 s) and still holds leases: the counts a SIGKILL used to lose.
    await waitUntil(
      async () => {
        const rows = await itemRows(env, 'acct');
        const doneByA = rows.filter(
          (r) => r.status === 'done' && completedBy(r) === 'doomed-a' && (r.metrics?.objects ?? 0) > 0,
        ).length;
        const heldByA = rows.filter((r) => r.status === 'leased' && r.leaseOwner === 'doomed-a').length;
        const counted = (await readCounterTotals(env.ctx.meta, 'acct')).byWorker.get('doomed-a')?.done ?? 0;
        if (doneByA > counted && heldByA > 0) {
          a.kill('SIGKILL');
          return true;
        }
        return false;
      },
      { timeoutMs: 30_000, intervalMs: 20, what: 'worker A with unflushed completions and held leases' },
    );
    await exited(a);
    const killedAtMs = Date.now();
    const rowsAtKill = await itemRows(env, 'acct');
    const lost =
      rowsAtKill.filter((r) => r.status === 'done' && completedBy(r) === 'doomed-a').length -
      ((await readCounterTotals(env.ctx.meta, 'acct')).byWorker.get('doomed-a')?.done ?? 0);
    expect(lost, 'A died with completions its counters never got').toBeGreaterThan(0);

    const b = oneWorker(config, 'finisher-b');
    await waitFinished(env, 'acct', 60_000);
    const copied = await listKeys(local, 'acct-dst');
    // on a miss, what a reader needs to tell a failed item from one done without its objects
    const story = async () =>
      JSON.stringify(
        {
          missing: [...(await listKeys(minio, 'acct-src')).keys()].filter((k) => !copied.has(k)),
          items: (await itemRows(env, 'acct')).map((r) => ({
            itemId: r.itemId,
            status: r.status,
            by: completedBy(r),
            error: r.lastError,
            metrics: r.metrics,
            history: r.history,
          })),
          workerA: a.output(),
          workerB: b.output(),
        },
        null,
        1,
      );
    expect(copied.size, copied.size === N ? 'every object copied' : await story()).toBe(N);

    // Straight after the last completion (B's counters may not be flushed either).
    const status = await cliJson(config, ['status', '--run', 'acct']);
    expect(status.counts).toMatchObject({ done: status.total, failed: 0, pending: 0, leased: 0, retrying: 0 });
    expect(status.counters.objects + status.counters.skipped).toBe(N);
    expect(status.counters.bytes + status.counters.skippedBytes).toBe(sourceBytes);
    expect(status.counters.done).toBe(status.total);

    // The killed worker is gone after --gone-after (longer than the 5 s heartbeat interval, so
    // the live worker B stays listed): not listed, counted as gone.
    const goneAfterS = 10;
    await waitUntil(() => Date.now() - killedAtMs > goneAfterS * 1000, {
      timeoutMs: 15_000,
      what: 'the gone-after age to pass',
    });
    const after = await cliJson(config, ['monitor', '--run', 'acct', '--gone-after', String(goneAfterS)]);
    expect(after.counters.objects + after.counters.skipped).toBe(N);
    expect(after.counters.bytes + after.counters.skippedBytes).toBe(sourceBytes);
    expect(after.workers.map((w: { workerId: string }) => w.workerId)).not.toContain('doomed-a');
    expect(after.workers.map((w: { workerId: string }) => w.workerId)).toContain('finisher-b');
    expect(after.workerCounts.gone).toBe(1);
    expect(after.workerCounts.alive).toBe(1);
    env.close();
  }, 120_000);
});
