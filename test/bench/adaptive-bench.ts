/**
 * `npm run bench:adaptive`: adaptive rate control against a destination of fixed capacity.
 *
 * The destination S3 endpoint sits behind a proxy that admits at most --capacity PUTs per second
 * and answers the rest 503 SlowDown, as an S3 prefix does (lib/capacity-proxy.ts), with
 * --delay-ms each way (the distance to the endpoint). The same source (--objects x 1 KiB under
 * one prefix, on a second endpoint) is copied three times, each into a fresh bucket by one
 * worker process:
 *   adaptive    --rate-control adaptive (the default), --transfers 64
 *   fixed-high  --rate-control fixed, --transfers 64 (what a user turns up to go fast)
 *   fixed-low   --rate-control fixed, --transfers 2 (what a user turns down after throttling)
 * and prints side by side: the share of the capacity used (admitted PUTs per second from the first
 * to the last admitted PUT, over the capacity; and the median second), the share of PUT requests
 * throttled, the worker's CPU, and that every object arrived. Target (issue #14): adaptive
 * >= 0.85 of the capacity with < 5% throttled.
 *
 * Options: --capacity 200  --objects 6000  --delay-ms 10  --out test/bench/results/adaptive.json
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { STACK_FILE, type StackFile } from '../../shared/config.js';
import { makeS3Client } from '../../shared/s3-clients.js';
import { CapacityProxy, type CapacityStats } from '../helpers/capacity-proxy.js';
import { runMeasured, runQuiet } from './lib/command.js';
import { BodyFactory, caseObjects, listBucket, populateBucket } from './lib/data.js';
import { convoyArgv, convoyEnv, REPO_ROOT, startBenchStack } from './lib/stack.js';

const { values: args } = parseArgs({
  options: {
    capacity: { type: 'string', default: '200' },
    objects: { type: 'string', default: '6000' },
    'delay-ms': { type: 'string', default: '10' },
    configs: { type: 'string', default: 'adaptive,fixed-high,fixed-low' },
    out: { type: 'string', default: 'test/bench/results/adaptive.json' },
    help: { type: 'boolean', default: false },
    /** print the admitted and throttled PUTs of every second */
    verbose: { type: 'boolean', default: false },
  },
});
if (args.help) {
  console.log(readFileSync(new URL(import.meta.url), 'utf8').split('*/')[0]);
  process.exit(0);
}
const positive = (name: string, v: string | undefined) => {
  const n = Number(v);
  if (!(n > 0)) {
    console.error(`--${name}: "${v}" is not a positive number`);
    process.exit(2);
  }
  return n;
};
const CAPACITY = positive('capacity', args.capacity);
const OBJECTS = Math.floor(positive('objects', args.objects));
const DELAY_MS = Number(args['delay-ms']);

const CONFIGS: Record<string, { rateControl: string; transfers: number }> = {
  adaptive: { rateControl: 'adaptive', transfers: 64 },
  'fixed-high': { rateControl: 'fixed', transfers: 64 },
  'fixed-low': { rateControl: 'fixed', transfers: 2 },
};

interface Row {
  config: string;
  transfers: number;
  seconds: number;
  admitted: number;
  throttled: number;
  throttledShare: number;
  capacityUsed: number;
  medianSecondUsed: number;
  workerCpuS: number;
  cpuMsPerObject: number;
  peakRssMiB: number;
  arrived: number;
}

function rowOf(
  config: string,
  transfers: number,
  s: CapacityStats,
  cpuS: number,
  rssKiB: number,
  arrived: number,
): Row {
  const seconds = ((s.lastAdmittedAtMs ?? 0) - (s.firstAdmittedAtMs ?? 0)) / 1000;
  const full = s.perSecond.slice(0, -1); // the last second is partial
  const sorted = [...full].sort((a, b) => a - b);
  const median = sorted.length ? sorted[Math.floor(sorted.length / 2)]! : 0;
  return {
    config,
    transfers,
    seconds: Number(seconds.toFixed(1)),
    admitted: s.admitted,
    throttled: s.throttled,
    throttledShare: Number((s.throttled / Math.max(1, s.admitted + s.throttled)).toFixed(4)),
    capacityUsed: Number((s.admitted / Math.max(0.001, seconds) / CAPACITY).toFixed(3)),
    medianSecondUsed: Number((median / CAPACITY).toFixed(3)),
    workerCpuS: Number(cpuS.toFixed(2)),
    cpuMsPerObject: Number(((cpuS * 1000) / Math.max(1, s.admitted)).toFixed(3)),
    peakRssMiB: Math.round(rssKiB / 1024),
    arrived,
  };
}

async function main(): Promise<void> {
  const work = mkdtempSync(path.join(os.tmpdir(), 'convoy-adaptive-bench-'));
  const load = os.loadavg();
  const say = (line: string) => console.log(line);
  say(
    `machine: ${os.cpus().length} x ${os.cpus()[0]?.model ?? '?'}, node ${process.version}; load at start ${load.map((l) => l.toFixed(2)).join(' ')}`,
  );
  say(`destination capacity ${CAPACITY} PUT/s, ${DELAY_MS} ms each way; ${OBJECTS} objects x 1 KiB`);
  const stack = await startBenchStack(path.join(work, 'stack'), ['minio'], { cwd: REPO_ROOT });
  const proxy = await new CapacityProxy({
    upstream: stack.stack.remotes.local!.endpoint!,
    putsPerSecond: CAPACITY,
    oneWayDelayMs: DELAY_MS,
  }).start();
  try {
    // convoy's state dir: the same stack, the "local" remote (the destination) behind the proxy
    const stateDir = path.join(work, 'state');
    mkdirSync(stateDir, { recursive: true });
    const proxied = JSON.parse(JSON.stringify(stack.stack)) as StackFile;
    proxied.remotes.local!.endpoint = proxy.url;
    writeFileSync(path.join(stateDir, STACK_FILE), JSON.stringify(proxied, null, 2));

    const src = makeS3Client({ name: 'minio', ...stack.stack.remotes.minio! });
    const dst = makeS3Client({ name: 'local', ...stack.stack.remotes.local! });
    const objects = caseObjects('data', OBJECTS, 1024, 1);
    await populateBucket(src, 'adaptive-src', objects, new BodyFactory(1024));
    say(`source populated (${objects.length} objects)`);

    const rows: Row[] = [];
    for (const config of (args.configs ?? '').split(',').filter(Boolean)) {
      const c = CONFIGS[config];
      if (!c) throw new Error(`unknown config ${config} (${Object.keys(CONFIGS).join(', ')})`);
      const run = `adaptive-${config}`;
      const bucket = `adaptive-${config}`;
      proxy.reset();
      const cli = (...a: string[]) => convoyArgv(stateDir, ...a);
      await runQuiet(
        cli(
          'plan',
          's3-sync',
          '--from',
          'minio:adaptive-src',
          '--to',
          `local:${bucket}`,
          '--create-buckets',
          '--rate-control',
          c.rateControl,
          '--run',
          run,
        ),
        { cwd: REPO_ROOT, env: convoyEnv() },
      );
      const worker = await runMeasured(
        cli(
          'worker',
          '--processes',
          '1',
          '--concurrency',
          '16',
          '--transfers',
          String(c.transfers),
          '--run',
          run,
          '--exit-when-idle',
          '3000',
        ),
        { cwd: REPO_ROOT, env: convoyEnv(), logDir: work, label: config, timeoutMs: 15 * 60_000 },
      );
      const arrived = (await listBucket(dst, bucket)).size;
      const row = rowOf(config, c.transfers, proxy.stats, worker.userCpuS + worker.sysCpuS, worker.peakRssKiB, arrived);
      rows.push(row);
      if (args.verbose) {
        say(`  admitted/s:  ${proxy.stats.perSecond.join(' ')}`);
        say(`  throttled/s: ${proxy.stats.throttledPerSecond.join(' ')}`);
      }
      say(
        `${config.padEnd(10)} capacity used ${row.capacityUsed} (median second ${row.medianSecondUsed}), throttled ${(row.throttledShare * 100).toFixed(1)}% of PUTs (${row.throttled}), ${row.seconds} s, worker CPU ${row.cpuMsPerObject} ms/object, ${row.arrived}/${OBJECTS} arrived`,
      );
    }
    say('');
    say(
      '| config | transfers | capacity used | median second | PUTs throttled | seconds | worker CPU ms/obj | peak RSS MiB | arrived |',
    );
    say('|---|---|---|---|---|---|---|---|---|');
    for (const r of rows)
      say(
        `| ${r.config} | ${r.transfers} | ${r.capacityUsed} | ${r.medianSecondUsed} | ${(r.throttledShare * 100).toFixed(1)}% (${r.throttled}) | ${r.seconds} | ${r.cpuMsPerObject} | ${r.peakRssMiB} | ${r.arrived}/${OBJECTS} |`,
      );
    const a = rows.find((r) => r.config === 'adaptive');
    if (a)
      say(
        `target: adaptive >= 0.85 of capacity with < 5% throttled: ${a.capacityUsed >= 0.85 && a.throttledShare < 0.05 ? 'met' : 'NOT met'}`,
      );
    const out = path.resolve(REPO_ROOT, args.out!);
    mkdirSync(path.dirname(out), { recursive: true });
    writeFileSync(
      out,
      `${JSON.stringify({ at: new Date().toISOString(), load, capacity: CAPACITY, delayMs: DELAY_MS, objects: OBJECTS, rows }, null, 2)}\n`,
    );
    say(`results: ${path.relative(REPO_ROOT, out)}`);
  } finally {
    await proxy.close();
    await stack.down();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
