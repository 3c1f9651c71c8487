/**
 * The fleet harness end to end (needs the build: `npx tsc -p .`, as `npm test` does first):
 * two worker processes, each on its own "host" (a network namespace when root and iproute2
 * allow, loopback otherwise), a fleet-probe run, one worker killed -9 mid-run and restarted.
 * Afterwards every item is done, registered at the peer exactly once, and nothing the harness
 * made is left behind (processes, namespaces).
 */
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runStatus } from '../../coordinator/status.js';
import { waitUntil } from '../helpers/stack.js';
import { distPath, Fleet, PROBE_CLI } from './fleet.js';
import { listNamespaces } from './netns.js';
import { planProbe, seedProbe, verifyProbe, waitForRun } from './probe-run.js';

let fleet: Fleet | undefined;
const built = existsSync(distPath('coordinator/cli/main.js')) && existsSync(PROBE_CLI);

beforeAll(async () => {
  if (!built) return;
  fleet = await Fleet.start({
    workers: 2,
    cli: PROBE_CLI,
    // short leases so a killed worker's items come back in seconds
    workerArgs: ['--concurrency', '8', '--wait-seconds', '1', '--lease-ms', '4000'],
    workDir: process.env.FLEET_TEST_DIR,
    log: process.env.FLEET_TEST_DIR ? (m) => console.log(m) : undefined,
  });
}, 60_000);

afterAll(async () => {
  await fleet?.close();
});

describe.skipIf(!built)('fleet harness', () => {
  it('runs a probe run on two hosts through a kill -9, with no item lost or registered twice', async () => {
    const f = fleet!;
    const spec = await seedProbe(f.ctx, { count: 150, name: 'fleettest', thinkMs: 20 });
    await planProbe(f.ctx, 'fleet-1', spec);
    // kill host-1's worker once some work is done, then restart it
    await waitUntil(async () => (await runStatus(f.ctx, 'fleet-1')).counts.done >= 30, {
      timeoutMs: 90_000,
      intervalMs: 200,
      what: '30 items done',
    });
    await f.killWorker(0);
    expect(f.isRunning(0)).toBe(false);
    await f.restartWorker(0);
    const status = await waitForRun(f.ctx, 'fleet-1', { timeoutMs: 120_000 });
    expect(status.counts).toMatchObject({ done: 150, failed: 0 });
    const verify = await verifyProbe(f.ctx, 'fleet-1', spec);
    expect(verify.counts).toMatchObject({ ok: 150, registered_twice: 0, unregistered: 0, missing: 0 });
    expect(f.counts.kills).toBe(1);
  }, 240_000);

  it('close() leaves no worker, emulator or namespace behind', async () => {
    const f = fleet!;
    const pids = [...f.workers.map((w) => w.proc!.pid!), ...[...f.services.values()].map((s) => s.proc.pid!)];
    const namespaces = f.hosts.map((h) => h.ns);
    await f.close();
    fleet = undefined;
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    await waitUntil(() => pids.every((p) => !alive(p)), { what: 'children gone' });
    expect(listNamespaces().filter((n) => namespaces.includes(n))).toEqual([]);
  }, 60_000);
});
