/**
 * `npm run bench:tables`: the table jobs side by side, on one emulator run in its own process
 * (`convoy local up --in-memory`).
 *
 *   ceiling  the emulator's raw BatchWriteItem rate: pre-built batches of 25, many in flight
 *            (`--ceiling-in-flight`, 64) from this process, nothing else running
 *   naive    a sequential Scan -> BatchWriteItem(25) loop (the hand-written migration scripts convoy replaces)
 *   copy     dynamodb-copy: plan + one spawned worker process until every segment is done
 *   pg       pg-to-dynamodb: the parking events, plan + one spawned worker
 *
 * Latency: the emulator answers in well under a millisecond, real DynamoDB in several (one
 * region, same AZ or not), and that round trip is what makes a sequential loop slow. So by
 * default every tool above reaches DynamoDB (and convoy SQS) through a delaying TCP proxy on
 * 127.0.0.1 (test/fleet/link-proxy.ts): `--latency-ms N` one way (default 10, ~20 ms a round
 * trip), and the same phases are measured again without it (`--latency-ms 0` alone gives only
 * that; `--latency-only` skips it). The ceiling is then "raw BatchWriteItem through the same
 * latency with many requests in flight". PostgreSQL is reached directly, and so is this
 * process's watching of the run (one Query every 200 ms).
 *
 * Writes test/bench/results/tables.json: copy_items_per_s, naive_items_per_s,
 * ceiling_items_per_s, pg_rows_per_s, peak_rss_mib (the copy/pg worker's peak) and latency_ms for
 * the latency run, the ratios against the targets (>= 3x naive, >= 0.7x ceiling), and the
 * same figures without latency under `no_latency`.
 * Usage: bench:tables [-- --items N --rows N --latency-ms N --latency-only --segments N
 *        --write-concurrency N --worker-concurrency N --ceiling-in-flight N]
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  BatchWriteItemCommand,
  DeleteTableCommand,
  ScanCommand,
  type AttributeValue,
  type DynamoDBClient,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import pLimit from 'p-limit';
import pg from 'pg';
import { loadConfig, type StackFile } from '../../shared/config.js';
import { createContext } from '../../shared/context.js';
import { KindRegistry, withKinds, type EngineContext } from '../../worker/job-kind.js';
import { builtInKinds } from '../../worker/jobs/builtin.js';
import { silentLogger } from '../../shared/log.js';
import { listWorkers } from '../../state/workers.js';
import { itemsOfRun } from '../../state/item-bulk.js';
import { planRun } from '../../coordinator/plan.js';
import { runStatus } from '../../coordinator/status.js';
import '../../worker/jobs/builtin.js';
import { copySpecFromFlags } from '../../worker/jobs/dynamodb-copy/plan-command.js';
import { countTable } from '../../worker/jobs/dynamodb-copy/verify.js';
import { pgDynamoSpecFromFlags } from '../../worker/jobs/pg-to-dynamodb/plan.js';
import { closePgPools } from '../../worker/jobs/table-io/pg-source.js';
import { tableClient } from '../../worker/jobs/table-io/table-ref.js';
import { LinkProxy } from '../fleet/link-proxy.js';
import { createTable, receiptItem, seedItems } from '../tables/helpers.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const args = process.argv.slice(2);
const arg = (name: string, def: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const N = arg('items', 50_000);
const PG_ROWS = arg('rows', 50_000);
const SEGMENTS = arg('segments', 16);
const WRITE_CONCURRENCY = arg('write-concurrency', 8);
const WORKER_CONCURRENCY = arg('worker-concurrency', 16);
const CEILING_IN_FLIGHT = arg('ceiling-in-flight', 64);
const LATENCY_MS = arg('latency-ms', 10);
const LATENCY_ONLY = args.includes('--latency-only');
/** for tuning: `--profile-dir D` writes the workers' V8 CPU profiles there */
const PROFILE_ARGS = args.includes('--profile-dir')
  ? ['--cpu-prof', '--cpu-prof-dir', args[args.indexOf('--profile-dir') + 1]!]
  : [];
const PAGE_SIZE = arg('page-size', 0) || undefined;
/** for tuning: run only some phases (`--phases copy,pg`); results then lack the others */
const PHASES = new Set(
  (args.includes('--phases') ? args[args.indexOf('--phases') + 1]! : 'ceiling,naive,copy,pg').split(','),
);
const CLI = path.resolve('dist/coordinator/cli/main.js');
const PG_ADMIN = process.env.CONVOY_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const say = (s: string) => process.stderr.write(`[bench:tables] ${s}\n`);

async function waitFor(check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out waiting for the worker to start');
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** user+system CPU seconds of a live process (/proc/<pid>/stat, clock ticks of 1/100 s). */
function cpuSeconds(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return 0;
  }
}

function peakRssKiB(pid: number): number {
  try {
    return Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

const round2 = (x: number) => Number(x.toFixed(2));

/** What every phase of one mode shares: the stack, the watching context, the source data. */
interface Bench {
  stateDir: string;
  stack: StackFile;
  emulatorPid: number;
  /** direct to the emulator: watching runs, counting, seeding */
  watch: EngineContext;
  direct: DynamoDBClient;
  pgUrl: string;
}

/**
 * The tools' view of the stack for one mode: with latency, a config file whose state endpoints
 * and `local` remote go through one link proxy for DynamoDB and one for fauxqs (SQS), used by
 * the spawned worker (`--config`), by planning here, and by the naive and ceiling clients.
 */
async function toolView(b: Bench, latencyMs: number, dir: string) {
  const proxies: LinkProxy[] = [];
  let configPath: string | undefined;
  if (latencyMs > 0) {
    const port = (url: string) => Number(new URL(url).port);
    const delayMs = { min: latencyMs, max: latencyMs };
    const dynamo = await new LinkProxy({
      host: '127.0.0.1',
      upstreamHost: '127.0.0.1',
      upstreamPort: port(b.stack.state.endpoints.dynamodb!),
      delayMs,
    }).start();
    const sqs = await new LinkProxy({
      host: '127.0.0.1',
      upstreamHost: '127.0.0.1',
      upstreamPort: port(b.stack.state.endpoints.sqs!),
      delayMs,
    }).start();
    proxies.push(dynamo, sqs);
    const local = b.stack.remotes.local!;
    configPath = path.join(dir, `latency-${latencyMs}.config.json`);
    writeFileSync(
      configPath,
      JSON.stringify({
        state: { ...b.stack.state, endpoints: { dynamodb: dynamo.url, sqs: sqs.url } },
        // S3 is not used by these jobs; it stays direct
        remotes: { local: { ...local, dynamodbEndpoint: dynamo.url } },
      }),
    );
  }
  const config = loadConfig({ stateDir: b.stateDir, configPath, env: {} });
  const ctx =
    latencyMs > 0
      ? withKinds(await createContext(config, { log: silentLogger }), new KindRegistry(builtInKinds))
      : b.watch;
  return {
    ctx,
    client: tableClient(config, 'local'),
    configArgs: configPath ? ['--config', configPath] : [],
    async close() {
      if (ctx !== b.watch) ctx.close();
      for (const p of proxies) await p.close();
    },
  };
}

async function writeBatches(
  client: DynamoDBClient,
  table: string,
  batches: WriteRequest[][],
  inFlight: number,
): Promise<void> {
  const limit = pLimit(inFlight);
  await Promise.all(
    batches.map((b) =>
      limit(async () => {
        let pending = b;
        while (pending.length)
          pending =
            (await client.send(new BatchWriteItemCommand({ RequestItems: { [table]: pending } }))).UnprocessedItems?.[
              table
            ] ?? [];
      }),
    ),
  );
}

type View = Awaited<ReturnType<typeof toolView>>;
interface PhaseResult {
  rate: number;
  emulator_cpu_s: number;
  worker_cpu_s?: number;
  peakKiB?: number;
  /** where a job's wall time goes: start-up (plan, SQS, claims) and the tail (uneven items) */
  timeline?: { first_claim_ms: number; last_claim_ms: number; first_done_ms: number; last_done_ms: number };
}

const emptyTable = async (b: Bench, name: string) => {
  await createTable(b.direct, name, { hash: 'PK', range: 'SK' });
  return { name, drop: () => b.direct.send(new DeleteTableCommand({ TableName: name })) };
};

/** (b) the ceiling: raw BatchWriteItem, pre-built batches, many in flight. */
async function ceilingPhase(b: Bench, view: View, tag: string): Promise<PhaseResult> {
  const table = await emptyTable(b, `ceil-${tag}`);
  const batches: WriteRequest[][] = [];
  for (let i = 0; i < N; i += 25)
    batches.push(Array.from({ length: Math.min(25, N - i) }, (_, j) => ({ PutRequest: { Item: receiptItem(i + j) } })));
  const cpu0 = cpuSeconds(b.emulatorPid);
  const t0 = Date.now();
  await writeBatches(view.client, table.name, batches, CEILING_IN_FLIGHT);
  const result = { rate: N / ((Date.now() - t0) / 1000), emulator_cpu_s: round2(cpuSeconds(b.emulatorPid) - cpu0) };
  await table.drop();
  return result;
}

/** (a) the naive loop: one Scan page at a time, one BatchWriteItem at a time. */
async function naivePhase(b: Bench, view: View, tag: string): Promise<PhaseResult> {
  const table = await emptyTable(b, `naive-${tag}`);
  const cpu0 = cpuSeconds(b.emulatorPid);
  const t0 = Date.now();
  let start: Record<string, AttributeValue> | undefined;
  let count = 0;
  do {
    const page = await view.client.send(new ScanCommand({ TableName: 'src', ExclusiveStartKey: start }));
    const items = page.Items ?? [];
    for (let i = 0; i < items.length; i += 25) {
      await writeBatches(
        view.client,
        table.name,
        [items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } }))],
        1,
      );
    }
    count += items.length;
    start = page.LastEvaluatedKey;
  } while (start);
  const result = { rate: count / ((Date.now() - t0) / 1000), emulator_cpu_s: round2(cpuSeconds(b.emulatorPid) - cpu0) };
  await table.drop();
  return result;
}

/**
 * A convoy run with one spawned worker process. The worker is started (and ready) before the run
 * is planned, as a fleet would be: the rate is plan -> every item done, without Node's start-up.
 */
async function jobPhase(
  b: Bench,
  view: View,
  runId: string,
  units: number,
  plan: () => Promise<void>,
): Promise<PhaseResult> {
  const id = `bench-${runId}`;
  const child = spawn(
    process.execPath,
    [
      ...PROFILE_ARGS,
      CLI,
      ...view.configArgs,
      '--state-dir',
      b.stateDir,
      'worker',
      '--worker-id',
      id,
      '--run',
      runId,
      '--concurrency',
      String(WORKER_CONCURRENCY),
      '--wait-seconds',
      '1',
      '--threads',
      '1',
      '--exit-when-idle',
      '600000',
    ],
    { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, CONVOY_LOG_LEVEL: 'warn' } },
  );
  try {
    await waitFor(async () =>
      (await listWorkers(b.watch.meta)).some((w) => w.workerId === id && w.state === 'running'),
    );
    const cpu0 = cpuSeconds(b.emulatorPid);
    const t0 = Date.now();
    await plan();
    const planned = (await runStatus(b.watch, runId)).run.plannedItems;
    let peak = 0;
    let started: number[] = [];
    let finished: number[] = [];
    // one Query per poll (the run's few item rows), so watching does not load the emulator
    for (;;) {
      peak = Math.max(peak, peakRssKiB(child.pid!));
      let done = 0;
      started = [];
      finished = [];
      for await (const page of itemsOfRun(b.watch.items, runId)) {
        for (const it of page) {
          if (it.status === 'failed')
            throw new Error(`${runId}: item ${it.itemId} failed: ${it.lastError?.errorClass} ${it.lastError?.message}`);
          if (it.status === 'done') done++;
          if (it.startedAtMs) started.push(it.startedAtMs - t0);
          if (it.finishedAtMs) finished.push(it.finishedAtMs - t0);
        }
      }
      if (done === planned) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const rate = units / ((Date.now() - t0) / 1000);
    return {
      rate,
      emulator_cpu_s: round2(cpuSeconds(b.emulatorPid) - cpu0),
      worker_cpu_s: cpuSeconds(child.pid!),
      peakKiB: Math.max(peak, peakRssKiB(child.pid!)),
      timeline: {
        first_claim_ms: Math.min(...started),
        last_claim_ms: Math.max(...started),
        first_done_ms: Math.min(...finished),
        last_done_ms: Math.max(...finished),
      },
    };
  } finally {
    child.kill('SIGTERM');
    if (child.exitCode === null && child.signalCode === null) await new Promise((r) => child.once('exit', r));
  }
}

/** ceiling, naive, copy and pg for one latency setting; each writes into a fresh table, dropped after. */
async function measureMode(b: Bench, latencyMs: number, dir: string) {
  const tag = `l${latencyMs}`;
  const view = await toolView(b, latencyMs, dir);
  const r: Partial<Record<'ceiling' | 'naive' | 'copy' | 'pg', PhaseResult>> = {};
  try {
    if (PHASES.has('ceiling')) {
      r.ceiling = await ceilingPhase(b, view, tag);
      say(`[${tag}] ceiling: ${r.ceiling.rate.toFixed(0)} items/s`);
    }
    if (PHASES.has('naive')) {
      r.naive = await naivePhase(b, view, tag);
      say(`[${tag}] naive: ${r.naive.rate.toFixed(0)} items/s`);
    }
    if (PHASES.has('copy')) {
      const dest = await emptyTable(b, `copy-${tag}`);
      const runId = `bench-copy-${tag}`;
      r.copy = await jobPhase(b, view, runId, N, async () => {
        const spec = await copySpecFromFlags({
          from: 'local:src',
          to: `local:${dest.name}`,
          segments: SEGMENTS,
          writeConcurrency: WRITE_CONCURRENCY,
          pageSize: PAGE_SIZE,
        });
        await planRun(view.ctx, { kind: 'dynamodb-copy', runId, spec });
      });
      if ((await countTable(b.direct, dest.name)) !== N) throw new Error('copy is missing items');
      await dest.drop();
      say(
        `[${tag}] dynamodb-copy: ${r.copy.rate.toFixed(0)} items/s (peak RSS ${(r.copy.peakKiB! / 1024).toFixed(0)} MiB, timeline ${JSON.stringify(r.copy.timeline)})`,
      );
    }
    if (PHASES.has('pg')) {
      const dest = await emptyTable(b, `pgdest-${tag}`);
      const runId = `bench-pg-${tag}`;
      r.pg = await jobPhase(b, view, runId, PG_ROWS, async () => {
        const mapping = path.resolve('examples/parking/events.mapping.json');
        const spec = await pgDynamoSpecFromFlags(
          {
            from: b.pgUrl,
            table: 'parking_events',
            key: 'timestamp',
            to: `local:${dest.name}`,
            mapping,
            ranges: SEGMENTS,
            writeConcurrency: WRITE_CONCURRENCY,
          },
          view.ctx,
        );
        await planRun(view.ctx, { kind: 'pg-to-dynamodb', runId, spec });
      });
      await dest.drop();
      say(
        `[${tag}] pg-to-dynamodb: ${r.pg.rate.toFixed(0)} rows/s (peak RSS ${(r.pg.peakKiB! / 1024).toFixed(0)} MiB)`,
      );
    }
  } finally {
    await view.close();
  }
  const rate = (p?: PhaseResult) => p?.rate ?? NaN;
  const vsNaive = rate(r.copy) / rate(r.naive);
  const vsCeiling = rate(r.copy) / rate(r.ceiling);
  return {
    latency_ms: latencyMs,
    copy_items_per_s: Math.round(rate(r.copy)),
    naive_items_per_s: Math.round(rate(r.naive)),
    ceiling_items_per_s: Math.round(rate(r.ceiling)),
    pg_rows_per_s: Math.round(rate(r.pg)),
    peak_rss_mib: Math.round(Math.max(r.copy?.peakKiB ?? 0, r.pg?.peakKiB ?? 0) / 1024),
    copy_vs_naive: round2(vsNaive),
    copy_vs_ceiling: round2(vsCeiling),
    targets: {
      copy_vs_naive: '>= 3',
      copy_vs_ceiling: '>= 0.7',
      naive_met: vsNaive >= 3,
      ceiling_met: vsCeiling >= 0.7,
      met: vsNaive >= 3 && vsCeiling >= 0.7,
    },
    timelines_ms: { copy: r.copy?.timeline, pg: r.pg?.timeline },
    cpu_seconds: Object.fromEntries(
      Object.entries(r).map(([k, p]) => [k, { worker_cpu_s: p.worker_cpu_s ?? 0, emulator_cpu_s: p.emulator_cpu_s }]),
    ),
    // The emulator is one single-threaded process: when the machine is busy, every variant is
    // bound by the CPU it gets, and wall-clock rates mostly measure the load. Items per
    // emulator CPU-second show what each variant costs the service, whatever the load.
    items_per_emulator_cpu_s: Object.fromEntries(
      Object.entries(r).map(([k, p]) => [k, Math.round((k === 'pg' ? PG_ROWS : N) / p.emulator_cpu_s)]),
    ),
  };
}

async function main() {
  const dir = mkdtempSync(path.join(tmpdir(), 'convoy-bench-tables-'));
  const stateDir = path.join(dir, 'state');
  say(`starting the emulator in its own process (state ${stateDir})`);
  execFileSync(process.execPath, [CLI, '--state-dir', stateDir, 'local', 'up', '--in-memory'], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const stack = JSON.parse(readFileSync(path.join(stateDir, 'stack.json'), 'utf8')) as StackFile;
  const config = loadConfig({ stateDir, env: {} });
  const watch = withKinds(await createContext(config, { log: silentLogger }), new KindRegistry(builtInKinds));
  const direct = tableClient(config, 'local');
  const loadAtStart = loadavg().map(round2);
  const t0 = Date.now();
  let pgDb: string | undefined;
  try {
    await createTable(direct, 'src', { hash: 'PK', range: 'SK' });
    say(`seeding ${N} items`);
    await seedItems(direct, 'src', N, receiptItem, 16);

    const admin = new pg.Client({ connectionString: PG_ADMIN });
    await admin.connect();
    pgDb = `convoy_bench_${Date.now()}`;
    await admin.query(`CREATE DATABASE ${pgDb}`);
    await admin.end();
    const pgUrl = PG_ADMIN.replace(/\/[^/]*$/, `/${pgDb}`);
    // examples/ is not compiled into dist: load the seed generator from the source tree
    const { createSchema, seedParking } = (await import(
      pathToFileURL(path.resolve('examples/parking/seed.mjs')).href
    )) as typeof import('../../examples/parking/seed.mjs');
    const seedDb = new pg.Client({ connectionString: pgUrl });
    await seedDb.connect();
    await createSchema(seedDb);
    await seedParking(seedDb, { events: PG_ROWS });
    await seedDb.end();

    const b: Bench = { stateDir, stack, emulatorPid: stack.pid, watch, direct, pgUrl };
    const measured = await measureMode(b, LATENCY_MS, dir);
    const baseline = LATENCY_MS > 0 && !LATENCY_ONLY ? await measureMode(b, 0, dir) : undefined;
    const results = {
      items: N,
      pg_rows: PG_ROWS,
      segments: SEGMENTS,
      write_concurrency: WRITE_CONCURRENCY,
      worker_concurrency: WORKER_CONCURRENCY,
      ceiling_in_flight: CEILING_IN_FLIGHT,
      ...measured,
      ...(baseline ? { no_latency: baseline } : {}),
      load_average_at_start: loadAtStart,
      load_average_at_end: loadavg().map(round2),
      wall_s: Math.round((Date.now() - t0) / 1000),
      measured_at: new Date().toISOString(),
    };
    if (PHASES.size === 4 && !args.includes('--no-save')) {
      mkdirSync('test/bench/results', { recursive: true });
      writeFileSync('test/bench/results/tables.json', JSON.stringify(results, null, 2) + '\n');
    }
    process.stdout.write(JSON.stringify(results, null, 2) + '\n');
    for (const r of [measured, baseline]) {
      if (!r) continue;
      say(
        `latency ${r.latency_ms} ms one way: copy ${r.copy_items_per_s}, naive ${r.naive_items_per_s}, ceiling ${r.ceiling_items_per_s} items/s; ` +
          `copy/naive ${r.copy_vs_naive} (>= 3 ${r.targets.naive_met ? 'met' : 'NOT met'}), copy/ceiling ${r.copy_vs_ceiling} (>= 0.7 ${r.targets.ceiling_met ? 'met' : 'NOT met'}); pg ${r.pg_rows_per_s} rows/s`,
      );
    }
  } finally {
    watch.close();
    await closePgPools();
    if (pgDb) {
      const a = new pg.Client({ connectionString: PG_ADMIN });
      await a.connect();
      await a.query(`DROP DATABASE IF EXISTS ${pgDb} WITH (FORCE)`).catch(() => undefined);
      await a.end();
    }
    execFileSync(process.execPath, [CLI, '--state-dir', stateDir, 'local', 'down'], { stdio: 'ignore' });
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`bench:tables failed: ${err?.stack ?? err}\n`);
    process.exit(1);
  },
);
