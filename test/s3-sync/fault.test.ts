/**
 * Fault test: 2,000+ objects, three worker processes, one of them killed with SIGKILL several
 * times during the run (and restarted, as systemd would). Afterwards every object is byte-identical,
 * no item is stuck, and verify is clean.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { planRun } from '../../coordinator/plan.js';
import { runStatus } from '../../coordinator/status.js';
import { specFromCli } from '../../worker/jobs/s3-sync/cli.js';
import { lakehouseObjects, putObjects } from '../fixtures/s3-data.js';
import { exited, runCli, spawnWorker, writeCliConfig } from '../helpers/cli.js';
import { listKeys, useTwoEndpointStack } from '../helpers/s3.js';
import { freshEnv, waitUntil, type TestStack } from '../helpers/stack.js';

let t: TestStack;
let minio: S3Client;
let local: S3Client;
useTwoEndpointStack((s) => ({ t, minio, local } = s));

describe('s3-sync under SIGKILL', () => {
  it('loses nothing when a worker is killed -9 repeatedly', async () => {
    const objects = [
      ...lakehouseObjects({ tables: 8, partsPerTable: 250, partSize: 4096 }),
      { key: 'exports/big.bin', size: 12 * 1024 * 1024, contentType: 'application/octet-stream' },
    ];
    expect(objects.length).toBeGreaterThanOrEqual(2000);
    await putObjects(minio, 'fault-src', objects);
    const env = await freshEnv(t.stack);
    const config = writeCliConfig(env);
    await planRun(env.ctx, {
      kind: 's3-sync',
      runId: 'fault',
      spec: specFromCli({ from: 'minio:fault-src', to: 'local:fault-dst', createBuckets: true, rangeKeys: 40 }),
      retry: { backoffBaseMs: 200 },
    });

    // Short leases so a killed worker's items come back quickly; small transfer pools so the run
    // lasts long enough to be interrupted several times.
    // --processes 1: the victim is one process, killed -9 by pid (no supervisor to restart it)
    const args = [
      '--processes',
      '1',
      '--lease-ms',
      '3000',
      '--wait-seconds',
      '1',
      '--concurrency',
      '3',
      '--transfers',
      '6',
      '--shutdown-deadline-ms',
      '5000',
    ];
    const steady = [spawnWorker(config, args), spawnWorker(config, args)];
    let victim = spawnWorker(config, args);
    let kills = 0;
    const doneCount = async () => (await runStatus(env.ctx, 'fault')).counts.done;
    for (let i = 0; i < 4; i++) {
      const before = await doneCount();
      // kill only once the victim has had time to hold items: wait for progress, not for a clock
      await waitUntil(async () => (await doneCount()) >= before + 3, {
        timeoutMs: 60_000,
        what: 'progress before a kill',
      });
      if ((await runStatus(env.ctx, 'fault')).run.state === 'done') break;
      victim.kill('SIGKILL');
      await exited(victim);
      kills++;
      victim = spawnWorker(config, args);
    }
    expect(kills).toBeGreaterThanOrEqual(3);
    const final = await waitUntil(
      async () => {
        const s = await runStatus(env.ctx, 'fault');
        return s.run.state === 'done' ? s : undefined;
      },
      { timeoutMs: 180_000, what: 'run done' },
    );
    for (const w of [...steady, victim]) w.kill('SIGTERM');
    const codes = await Promise.all([...steady, victim].map(exited));
    expect(codes).toEqual([0, 0, 0]); // graceful exit on SIGTERM

    expect(final.counts).toMatchObject({ failed: 0, pending: 0, leased: 0, retrying: 0 });
    const [src, dst] = await Promise.all([listKeys(minio, 'fault-src'), listKeys(local, 'fault-dst')]);
    expect(dst.size).toBe(src.size);
    for (const [key, o] of src) {
      const d = dst.get(key);
      expect(d?.size, key).toBe(o.size);
      if (!o.etag.includes('-')) expect(d?.etag, key).toBe(o.etag);
    }
    const verify = await runCli(['verify', '--run', 'fault'], { config });
    expect(verify.stdout).toContain('CLEAN');
    expect(verify.code).toBe(0);
    env.close();
  }, 300_000);
});
