/**
 * `npm run bench:scale`: scale-out across hosts. For N = 1, 2, 4, 8 worker processes, each in its
 * own network namespace reaching the local stack over a veth with 10-25 ms round trips (see
 * test/fleet/), run the same kind of work and measure steady-state throughput (items completed
 * between 10% and 90% of the run, over that time) and scaling efficiency
 * throughput(N) / (N x throughput(1)). Writes test/bench/results/scale.json.
 *
 * Kinds: `probe` (fleet-probe: S3 GET, peer check, S3 PUT, peer register, plus --think-ms of
 * simulated remote service time per item) and `s3-sync` (bucket to bucket on the local stack,
 * planned with the real CLI). Options:
 *   --workers 1,2,4,8   --kinds probe,s3-sync   --items-per-worker 400   --concurrency 8
 *   --think-ms 50       --no-netns              --out test/bench/results/scale.json
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import pLimit from 'p-limit';
import { runStatus } from '../../coordinator/status.js';
import { getRemote } from '../../shared/config.js';
import { makeS3Client } from '../../shared/clients.js';
import { closeOnSignals, distPath, Fleet, PROBE_PRELOAD } from '../fleet/fleet.js';
import { planProbe, seedProbe, verifyProbe, waitForRun } from '../fleet/probe-run.js';

const { values: args } = parseArgs({
  options: {
    workers: { type: 'string', default: '1,2,4,8' },
    kinds: { type: 'string', default: 'probe,s3-sync' },
    'items-per-worker': { type: 'string', default: '400' },
    concurrency: { type: 'string', default: '8' },
    'think-ms': { type: 'string', default: '50' },
    'no-netns': { type: 'boolean', default: false },
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
}

/** Steady-state rate: completions between 10% and 90% of the run, over that time. */
function steadyRate(samples: Array<{ t: number; done: number }>, total: number): { rate: number; seconds: number } {
  const at = (frac: number) => samples.find((s) => s.done >= frac * total)!;
  const a = at(0.1);
  const b = at(0.9);
  const seconds = (b.t - a.t) / 1000;
  return { rate: seconds > 0 ? (b.done - a.done) / seconds : 0, seconds };
}

async function runProbe(fleet: Fleet, n: number, items: number, thinkMs: number): Promise<Point> {
  const spec = await seedProbe(fleet.ctx, { count: items, name: `scale${n}`, thinkMs });
  const runId = `scale-probe-${n}`;
  const samples: Array<{ t: number; done: number }> = [];
  const t0 = Date.now();
  await planProbe(fleet.ctx, runId, spec);
  const s = await waitForRun(fleet.ctx, runId, { timeoutMs: 900_000, intervalMs: 250, onTick: (st) => void samples.push({ t: Date.now(), done: st.counts.done }) });
  const { rate } = steadyRate(samples, items);
  const verify = await verifyProbe(fleet.ctx, runId, spec);
  return { workers: n, items, seconds: (Date.now() - t0) / 1000, throughput: rate, failed: s.counts.failed, verify: verify.counts };
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
  await Promise.all(Array.from({ length: objects }, (_, i) => limit(() => s3.send(new PutObjectCommand({ Bucket: src, Key: `k/${String(i).padStart(7, '0')}`, Body: body, ContentLength: body.length })))));
  s3.destroy();
  const config = path.join(fleet.workDir, 'harness.config.json');
  const { name: _name, ...local } = fleet.config.remotes.local!;
  writeFileSync(config, JSON.stringify({ state: fleet.state, remotes: { local } }));
  const runId = `scale-sync-${n}`;
  const samples: Array<{ t: number; done: number }> = [];
  const t0 = Date.now();
  execFileSync(process.execPath, [distPath('coordinator/cli/main.js'), '--config', config, '--log-level', 'warn', 'plan', 's3-sync', '--from', `local:${src}`, '--to', `local:${dst}`, '--run', runId, '--range-keys', String(keysPerItem)], { stdio: ['ignore', 'ignore', 'inherit'] });
  const s = await waitForRun(fleet.ctx, runId, { timeoutMs: 900_000, intervalMs: 250, onTick: (st) => void samples.push({ t: Date.now(), done: st.counts.done }) });
  const total = s.total;
  const { rate } = steadyRate(samples, total);
  return { workers: n, items: total, seconds: (Date.now() - t0) / 1000, throughput: rate, failed: s.counts.failed };
}

async function main(): Promise<void> {
  const counts = args.workers!.split(',').map(Number);
  const kinds = args.kinds!.split(',');
  const perWorker = Number(args['items-per-worker']);
  const thinkMs = Number(args['think-ms']);
  const result: Record<string, unknown> = {
    date: new Date().toISOString(),
    machine: { cores: os.cpus().length, loadAverageAtStart: os.loadavg(), node: process.version },
    settings: { perWorker, concurrency: Number(args.concurrency), thinkMs, rttMs: '10-25 (uniform one-way 5-12.5 per connection)' },
    kinds: {} as Record<string, Point[]>,
  };
  for (const kind of kinds) {
    const points: Point[] = [];
    for (const n of counts) {
      const fleet = await Fleet.start({
        workers: n,
        netns: args['no-netns'] ? false : 'auto',
        preload: [PROBE_PRELOAD],
        workerArgs: ['--concurrency', String(args.concurrency), '--wait-seconds', '2', '--threads', '1'],
        log: (m) => process.stderr.write(`${m}\n`),
      });
      closeOnSignals(fleet);
      (result as { mode?: string }).mode = fleet.mode;
      try {
        const items = perWorker * n;
        const p = kind === 'probe' ? await runProbe(fleet, n, items, thinkMs) : await runS3Sync(fleet, n, items);
        const base = points[0];
        p.efficiency = base ? p.throughput / ((p.workers / base.workers) * base.throughput) : 1;
        points.push(p);
        process.stdout.write(
          `${kind.padEnd(8)} N=${String(n).padStart(2)}  items=${String(p.items).padStart(5)}  ${p.throughput.toFixed(1).padStart(7)} items/s  efficiency ${p.efficiency.toFixed(2)}  failed=${p.failed}  load=${os.loadavg()[0]!.toFixed(1)}${p.verify ? `  verify=${JSON.stringify(p.verify)}` : ''}\n`,
        );
      } finally {
        await fleet.close();
      }
    }
    (result.kinds as Record<string, Point[]>)[kind] = points;
  }
  mkdirSync(path.dirname(args.out!), { recursive: true });
  writeFileSync(args.out!, JSON.stringify(result, null, 2) + '\n');
  process.stdout.write(`wrote ${args.out}\n`);
}

await main();
