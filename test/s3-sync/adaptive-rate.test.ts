/**
 * Adaptive rate control as an operator meets it: `convoy plan s3-sync` to a destination that
 * throttles (a proxy admitting 30 PUT/s and answering the rest 503 SlowDown, as an S3 prefix
 * does), one `convoy worker`, then `convoy status` and `convoy monitor`. With the default
 * (`--rate-control adaptive`) the fleet's rate for the destination prefix is cut and shown; with
 * `--rate-control fixed` there is none; every object arrives either way. How close the rate gets
 * to the capacity is measured by `npm run bench:adaptive`, not here.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { putObjects, type GeneratedObject } from '../fixtures/s3-data.js';
import { CapacityProxy } from '../helpers/capacity-proxy.js';
import { runCli, writeCliConfig } from '../helpers/cli.js';
import { listKeys, useTwoEndpointStack } from '../helpers/s3.js';
import { freshEnv, type TestEnv, type TestStack } from '../helpers/stack.js';
import { cliFleet, type CliFleet } from './cli-run.js';

let t: TestStack;
let minio: S3Client;
let local: S3Client;
useTwoEndpointStack((s) => ({ t, minio, local } = s));

let env: TestEnv;
let proxy: CapacityProxy;
let config: string;
let fleet: CliFleet;
const objects: GeneratedObject[] = Array.from({ length: 120 }, (_, i) => ({
  key: `logs/obj-${String(i).padStart(4, '0')}.bin`,
  size: 512,
  contentType: 'application/octet-stream',
}));

beforeAll(async () => {
  await putObjects(minio, 'adapt-src', objects);
  proxy = await new CapacityProxy({ upstream: t.stack.remotes.local!.endpoint!, putsPerSecond: 30 }).start();
  env = await freshEnv(t.stack);
  // "slow" is the local endpoint behind the proxy
  config = writeCliConfig(env, { slow: { ...t.stack.remotes.local!, endpoint: proxy.url } });
  fleet = cliFleet(env, config);
});
afterAll(async () => {
  await fleet?.stop();
  await proxy?.close();
  env?.close();
});

describe('s3-sync adaptive rate control (real CLI)', () => {
  it('adaptive (the default): the destination throttles, the fleet cuts its rate, status and monitor show it, all arrive', async () => {
    proxy.reset();
    const status = await fleet.run('adapt-on', [
      '--from',
      'minio:adapt-src',
      '--to',
      'slow:adapt-on',
      '--create-buckets',
    ]);
    expect(status.counts.done).toBe(status.total);
    expect((await listKeys(local, 'adapt-on')).size).toBe(objects.length);
    expect(proxy.stats.throttled).toBeGreaterThan(0);

    const st = await runCli(['status', '--run', 'adapt-on'], { config });
    expect(st.code, st.stderr).toBe(0);
    const line = st.stdout.split('\n').find((l) => l.startsWith('adaptive rate s3:slow/adapt-on/logs/:'));
    expect(line, st.stdout).toBeDefined();
    const m = /: ([\d.]+)\/s \(last throttled at ([\d.]+)\/s; (\d+) cut\(s\)/.exec(line!);
    expect(m, line).not.toBeNull();
    expect(Number(m![3])).toBeGreaterThanOrEqual(1);
    // the fleet's rate sits under the capacity it was throttled at
    expect(Number(m![1])).toBeLessThan(Number(m![2]));

    const mon = await runCli(['monitor', '--run', 'adapt-on'], { config });
    expect(mon.code, mon.stderr).toBe(0);
    expect(mon.stdout).toContain('adaptive rate s3:slow/adapt-on/logs/:');
  });

  it('--rate-control fixed: no adaptive rate, throttled copies retried, all arrive', async () => {
    proxy.reset();
    const status = await fleet.run('adapt-off', [
      '--from',
      'minio:adapt-src',
      '--to',
      'slow:adapt-off',
      '--create-buckets',
      '--rate-control',
      'fixed',
    ]);
    expect(status.counts.done).toBe(status.total);
    expect((await listKeys(local, 'adapt-off')).size).toBe(objects.length);
    expect(proxy.stats.throttled).toBeGreaterThan(0);
    const st = await runCli(['status', '--run', 'adapt-off'], { config });
    expect(st.stdout).not.toContain('adaptive rate');
  });

  it('--rate-control with an unknown mode: exit 2 naming the flag and the modes, no run written', async () => {
    const r = await runCli(
      [
        'plan',
        's3-sync',
        '--run',
        'adapt-bad',
        '--from',
        'minio:adapt-src',
        '--to',
        'slow:x',
        '--rate-control',
        'fast',
      ],
      { config },
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--rate-control: "fast" is not a mode; use "adaptive"');
    expect(r.stderr).not.toMatch(/\n\s+at /);
    const st = await runCli(['status', '--run', 'adapt-bad'], { config });
    expect(st.code).toBe(2);
    expect(st.stderr).toContain('not found');
  });
});
