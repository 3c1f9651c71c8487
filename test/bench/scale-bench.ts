/**
 * `npm run bench:scale`: scale-out across hosts. For N = 1, 2, 4, 8 worker processes, each in its
 * own network namespace reaching the local stack over a veth with 10-25 ms round trips (see
 * test/fleet/), run the same kind of work and measure steady-state throughput (items completed
 * between 10% and 90% of the run, over that time) and scaling efficiency
 * throughput(N) / (N x throughput(1)). Writes test/bench/results/scale.json.
 *
 * Kinds: `probe` (fleet-probe: S3 GET, peer check, S3 PUT, peer register, plus --think-ms of
 * simulated remote service time per item), `s3-sync` (bucket to bucket on the local stack,
 * planned with the real CLI; items of 10 x 4 KiB objects) and `uploads` (the real job against
 * the UCAN peers, run in a process of their own and reached through each host's link).
 * Options:
 *   --workers 1,2,4,8   --kinds probe,s3-sync,uploads   --items-per-worker 200
 *   --concurrency probe=2,s3-sync=1,uploads=1 (or one number for all)   --think-ms 50
 *   --no-netns   --profile-dir DIR   --out test/bench/results/scale.json
 *
 * Per-host concurrency is low on purpose: everything here (emulators, peers, N workers) shares 2
 * cores, and a host must load the machine lightly for N hosts to fit; with --concurrency 8 one
 * host alone takes 40-70% of the machine and the benchmark measures the box, not the fleet.
 * The CPU columns (per process, and how busy the machine was) show where that point is.
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import pLimit from 'p-limit';
import { getRemote } from '../../shared/config.js';
import { makeS3Client } from '../../shared/s3-clients.js';
import { closeOnSignals, distPath, Fleet, PROBE_CLI } from '../fleet/fleet.js';
import { planProbe, seedProbe, verifyProbe, waitForRun } from '../fleet/probe-run.js';
import { itemsOfRun } from '../../state/item-bulk.js';
import { startCpuWindow, type CpuWindowReport } from './lib/proc-cpu.js';

const { values: args } = parseArgs({
  options: {
    workers: { type: 'string', default: '1,2,4,8' },
    kinds: { type: 'string', default: 'probe,s3-sync,uploads' },
    'items-per-worker': { type: 'string', default: '200' },
    concurrency: { type: 'string', default: 'probe=2,s3-sync=1,uploads=1' },
    'think-ms': { type: 'string', default: '50' },
    'no-netns': { type: 'boolean', default: false },
    /** write each worker's V8 CPU profile here (node --cpu-prof) */
    'profile-dir': { type: 'string' },
    out: { type: 'string', default: 'test/bench/results/scale.json' },
  },
});

interface Point {
  workers: number;
  items: number;
  seconds: number;
  throughput: number;
  efficiency?: number;
  failed: number;
  verify?: Record<string, number>;
  /** CPU by component between 10% and 90% done: where the time went */
  cpu?: CpuWindowReport;
}

/** The processes of a fleet, by role, for CPU accounting. */
function fleetProcesses(fleet: Fleet): () => Record<string, number[]> {
  return () => ({
    dynalite: [fleet.services.get('dynamodb')?.proc.pid ?? 0].filter(Boolean),
    fauxqs: [fleet.services.get('fauxqs')?.proc.pid ?? 0].filter(Boolean),
    ucan_peers: [fleet.ucan?.proc.pid ?? 0].filter(Boolean),
    workers: fleet.workers.map((w) => w.proc?.pid ?? 0).filter(Boolean),
  });
}

/**
 * Follow a run to its end and measure it. Progress is polled only every 2 s (an exact status
 * count costs the emulator CPU that the workers compete for, and more so as runs grow with N);
 * the rate comes afterwards from the items' own completion times: items finished between the
 * 10th and the 90th percentile of completions, over that time. CPU is accounted over the polls
 * that bracket the same part of the run.
 */
async function follow(fleet: Fleet, runId: string, expected: number) {
  let stopWindow: (() => CpuWindowReport) | undefined;
  let cpu: CpuWindowReport | undefined;
  const s = await waitForRun(fleet.ctx, runId, {
    timeoutMs: 900_000,
    intervalMs: 2_000,
    onTick: (st) => {
      if (!stopWindow && st.counts.done >= 0.1 * expected) stopWindow = startCpuWindow(fleetProcesses(fleet));
      if (stopWindow && !cpu && st.counts.done >= 0.9 * expected) cpu = stopWindow();
    },
  });
  cpu ??= stopWindow?.();
  const finished: number[] = [];
  for await (const page of itemsOfRun(fleet.ctx.items, runId))
    for (const it of page) if (it.status === 'done') finished.push(it.finishedAtMs ?? it.updatedAtMs);
  return { s, rate: steadyRate(finished), cpu };
}

/** Steady-state rate from completion times: the middle 80% of completions over their span. */
function steadyRate(finishedAtMs: number[]): number {
  const t = [...finishedAtMs].sort((a, b) => a - b);
  if (t.length < 10) return 0;
  const a = Math.floor(0.1 * (t.length - 1));
  const b = Math.floor(0.9 * (t.length - 1));
  const seconds = (t[b]! - t[a]!) / 1000;
  return seconds > 0 ? (b - a) / seconds : 0;
}

async function runProbe(fleet: Fleet, n: number, items: number, thinkMs: number): Promise<Point> {
  const spec = await seedProbe(fleet.ctx, { count: items, name: `scale${n}`, thinkMs });
  const runId = `scale-probe-${n}`;
  const t0 = Date.now();
  await planProbe(fleet.ctx, runId, spec);
  const { s, rate, cpu } = await follow(fleet, runId, items);
  const verify = await verifyProbe(fleet.ctx, runId, spec);
  return {
    workers: n,
    items,
    seconds: (Date.now() - t0) / 1000,
    throughput: rate,
    failed: s.counts.failed,
    verify: verify.counts,
    cpu,
  };
}

async function runS3Sync(fleet: Fleet, n: number, items: number): Promise<Point> {
  // one range item per 10 keys: `items` items of 10 x 4 KiB objects each
  const keysPerItem = 10;
  const objects = items * keysPerItem;
  const s3 = makeS3Client(getRemote(fleet.config, 'local'));
  const src = `sync-src-${n}`;
  const dst = `sync-dst-${n}`;
  for (const b of [src, dst]) await s3.send(new CreateBucketCommand({ Bucket: b })).catch(() => undefined);
  const limit = pLimit(32);
  const body = Buffer.alloc(4096, 's');
  await Promise.all(
    Array.from({ length: objects }, (_, i) =>
      limit(() =>
        s3.send(
          new PutObjectCommand({
            Bucket: src,
            Key: `k/${String(i).padStart(7, '0')}`,
            Body: body,
            ContentLength: body.length,
          }),
        ),
      ),
    ),
  );
  s3.destroy();
  const config = harnessConfig(fleet);
  const runId = `scale-sync-${n}`;
  const t0 = Date.now();
  cli(fleet, config, [
    'plan',
    's3-sync',
    '--from',
    `local:${src}`,
    '--to',
    `local:${dst}`,
    '--run',
    runId,
    '--range-keys',
    String(keysPerItem),
  ]);
  const { s, rate, cpu } = await follow(fleet, runId, items);
  const total = s.total;
  return {
    workers: n,
    items: total,
    seconds: (Date.now() - t0) / 1000,
    throughput: rate,
    failed: s.counts.failed,
    cpu,
  };
}

/** Write the harness's own config (state + the local remote, direct to the emulators). */
function harnessConfig(fleet: Fleet): string {
  const config = path.join(fleet.workDir, 'harness.config.json');
  const { name: _name, ...local } = fleet.config.remotes.local!;
  writeFileSync(config, JSON.stringify({ state: fleet.state, remotes: { local } }));
  return config;
}

function cli(fleet: Fleet, config: string, args: string[], env: Record<string, string> = {}): string {
  return execFileSync(
    process.execPath,
    [
      distPath('coordinator/cli/main.js'),
      '--config',
      config,
      '--state-dir',
      path.join(fleet.workDir, 'state'),
      '--log-level',
      'warn',
      ...args,
    ],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, ...env },
    },
  ).toString();
}

/**
 * The uploads job on generated data: `uploads` small uploads over 5 customers and 20 spaces, no
 * broken ones, none indexed yet; every one is indexed, stored, registered, its location claims
 * re-published and its space's gateway authorized. Verified at the peers: nothing registered
 * twice, every upload's index registered.
 */
async function runUploads(fleet: Fleet, n: number, uploads: number): Promise<Point> {
  const config = harnessConfig(fleet);
  const env = { CONVOY_UPLOADS_CONFIG: fleet.uploadsConfigFile! };
  const seed = `scale${n}`;
  cli(
    fleet,
    config,
    [
      'local',
      'seed',
      'uploads',
      '--customers',
      '5',
      '--spaces',
      '20',
      '--uploads',
      String(uploads),
      '--seed',
      seed,
      '--broken-rate',
      '0',
      '--indexed-rate',
      '0',
    ],
    env,
  );
  const customersFile = path.join(fleet.workDir, `${seed}-customers.json`);
  writeFileSync(
    customersFile,
    JSON.stringify(Array.from({ length: 5 }, (_, i) => `did:mailto:example.com:customer-${seed}-${i}`)),
  );
  const runId = `scale-uploads-${n}`;
  const t0 = Date.now();
  cli(fleet, config, ['plan', 'uploads', '--run', runId, '--customers-file', customersFile], env);
  // customer and space items expand into upload items: count all of them
  const expected = uploads + 5 + 20;
  const { s, rate, cpu } = await follow(fleet, runId, expected);
  const peers = await fleet.peerCounts();
  const verify = {
    uploads_done: s.counts.done - (s.total - uploads),
    indexes_registered: peers.indexed,
    registered_twice: peers.indexedTwice,
    location_claims_twice: peers.locationsTwice,
    gateway_spaces: peers.gatewaySpaces,
    gateway_authorized_twice: peers.gatewayTwice,
  };
  return {
    workers: n,
    items: s.total,
    seconds: (Date.now() - t0) / 1000,
    throughput: rate,
    failed: s.counts.failed,
    verify,
    cpu,
  };
}

/** `--concurrency 8` for every kind, or per kind: `probe=8,uploads=4` (kinds not named: 8). */
function concurrencyOf(kind: string): number {
  const v = args.concurrency!;
  if (/^\d+$/.test(v)) return Number(v);
  const named = Object.fromEntries(v.split(',').map((kv) => kv.split('=')));
  return Number(named[kind] ?? 8);
}

async function main(): Promise<void> {
  const counts = args.workers!.split(',').map(Number);
  const kinds = args.kinds!.split(',');
  const perWorker = Number(args['items-per-worker']);
  const thinkMs = Number(args['think-ms']);
  const result: Record<string, unknown> = {
    date: new Date().toISOString(),
    machine: { cores: os.cpus().length, loadAverageAtStart: os.loadavg(), node: process.version },
    settings: {
      perWorker,
      concurrency: Object.fromEntries(kinds.map((k) => [k, concurrencyOf(k)])),
      thinkMs,
      rttMs: '10-25 (uniform one-way 5-12.5 per connection)',
    },
    kinds: {} as Record<string, Point[]>,
  };
  for (const kind of kinds) {
    const points: Point[] = [];
    for (const n of counts) {
      const fleet = await Fleet.start({
        workers: n,
        netns: args['no-netns'] ? false : 'auto',
        cli: PROBE_CLI,
        uploadPeers: kind === 'uploads',
        nodeArgs: args['profile-dir']
          ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(args['profile-dir'], `${kind}-${n}`)}`]
          : [],
        workerArgs: ['--concurrency', String(concurrencyOf(kind)), '--wait-seconds', '2', '--threads', '1'],
        log: (m) => process.stderr.write(`${m}\n`),
      });
      const offSignals = closeOnSignals(fleet);
      (result as { mode?: string }).mode = fleet.mode;
      try {
        const items = perWorker * n;
        const p =
          kind === 'probe'
            ? await runProbe(fleet, n, items, thinkMs)
            : kind === 'uploads'
              ? await runUploads(fleet, n, items)
              : await runS3Sync(fleet, n, items);
        const base = points[0];
        p.efficiency = base ? p.throughput / ((p.workers / base.workers) * base.throughput) : 1;
        points.push(p);
        process.stdout.write(
          `${kind.padEnd(8)} N=${String(n).padStart(2)}  items=${String(p.items).padStart(5)}  ${p.throughput.toFixed(1).padStart(7)} items/s  efficiency ${p.efficiency.toFixed(2)}  failed=${p.failed}  load=${os.loadavg()[0]!.toFixed(1)}${
            p.cpu
              ? `  busy=${p.cpu.machineBusy} cores ${Object.entries(p.cpu.components)
                  .map(([k, v]) => `${k}:${v.cores}`)
                  .join(' ')}`
              : ''
          }${p.verify ? `  verify=${JSON.stringify(p.verify)}` : ''}\n`,
        );
      } finally {
        await fleet.close();
        offSignals();
      }
    }
    (result.kinds as Record<string, Point[]>)[kind] = points;
  }
  mkdirSync(path.dirname(args.out!), { recursive: true });
  writeFileSync(args.out!, JSON.stringify(result, null, 2) + '\n');
  process.stdout.write(`wrote ${args.out}\n`);
}

await main();
