/**
 * `npm run bench:s3`: convoy's s3-sync against `rclone copy` (--transfers 16, 64 and 256) and
 * `aws s3 sync`, side by side on the same data in one run:
 *   (a) 5,000 x 16 KiB objects between two S3 endpoints,
 *   (b) 200 x 8 MiB objects between two S3 endpoints,
 *   (c) 2,000 x 256 KiB objects within one endpoint,
 *   (d) 20,000 x 16 KiB objects between two endpoints with 20 ms added to every round trip,
 *   (e) 16 KiB objects between two endpoints for at least 60 s (the count from a calibration),
 *       rated on the steady state: the middle 80% of the object writes.
 * The emulators run in two processes of their own: the S3 endpoints (`convoy local up --extra-s3
 * minio`) and the state services that hold convoy's tables and queue (a second `convoy local up`),
 * so the endpoints' CPU, compared with rclone's, is the S3 endpoints' alone; each tool copies
 * into a fresh destination bucket, which is then checked object by object (and a sample byte by
 * byte) and deleted. Every tool reaches the endpoints through counting proxies (one per S3
 * endpoint, and for convoy one in front of SQS and one in front of DynamoDB; lib/bench-proxies.ts),
 * which count its requests by type and, in (d), add the delay. Prints objects/s, MiB/s, peak RSS,
 * CPU (the tool's, the S3 endpoints' and convoy's state services', per object), requests per object by type, their price per
 * million objects, and the ratio to the best rclone; writes test/bench/results/s3.json.
 * Options: --help.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { S3Client } from '@aws-sdk/client-s3';
import { makeS3Client } from '../../shared/s3-clients.js';
import { InputError } from '../../shared/errors.js';
import { startBenchProxies, type BenchProxies } from './lib/bench-proxies.js';
import type { ProxyStats } from './lib/counting-proxy.js';
import { processCpuSeconds } from './lib/command.js';
import {
  BodyFactory,
  caseObjects,
  checkBucket,
  deleteBucket,
  describeCheck,
  ensureBucket,
  KiB,
  MiB,
  populateBucket,
  totalBytes,
  warmUpEndpoints,
} from './lib/data.js';
import { ensurePeers, writePeerConfigs, type PeerRemote } from './lib/peers.js';
import { PRICES } from './lib/prices.js';
import {
  addRatios,
  checkCostTargets,
  checkTargets,
  formatMarkdown,
  formatTable,
  medianIndex,
  requestFigures,
  TOOLS,
  toolResult,
  writeResults,
  type BenchResults,
  type ToolEntry,
  type ToolName,
  type ToolResult,
} from './lib/results.js';
import { convoyHasS3Sync, REPO_ROOT, startSplitBenchStack, type BenchStack } from './lib/stack.js';
import { steadyCaseCount, steadyRate } from './lib/steady.js';
import { runTool, type BenchCase, type ToolContext } from './lib/tools.js';
import { profileReport, type ProfiledRun } from './lib/profile-report.js';

const HELP = `usage: npm run bench:s3 -- [options]
  --cases a,b,c,d,e       cases to run (default all)
  --tools LIST            tools for every case, from convoy,convoy-work,rclone16,rclone64,rclone256,
                          awscli (default per case: convoy,convoy-work,rclone16,rclone64,awscli
                          in (a)-(c); rclone256 too in (d); the two convoys and the three rclones
                          in (e)); convoy-work: \`convoy plan s3-sync --work\`, the one command for
                          one host (the plan's process works the run, with more processes while
                          all are CPU-bound; --worker-node-arg applies to it; --concurrency and
                          the worker's arguments do not)
  --scale F               multiply object counts by F (e.g. 0.1 for a quick harness check)
  --repeat N              runs per tool; the median run is reported (default 1)
  --steady-seconds S      case (e): copy for at least S seconds (default 60)
  --e-objects N           case (e): copy N objects instead of sizing them by calibration
  --direct                no counting proxies: tools reach the emulators directly (no request
                          counts or prices; not for case d, whose delay is in the proxies)
  --concurrency N         convoy worker --concurrency (default: not given, convoy's default, 8 per
                          process; a host of --processes auto on 2 cores: 16)
  --transfers N           convoy worker --transfers (default: not given, convoy's default, 64 per
                          process; 128 on 2 cores)
  --worker-arg ARG        extra convoy worker argument (repeatable; --worker-arg=--flag for flags)
  --plan-arg ARG          extra convoy plan s3-sync argument (repeatable; --plan-arg=--flag for flags)
  --worker-node-arg ARG   extra node option for the worker (repeatable), e.g.
                          --worker-node-arg=--max-old-space-size=128
  --out FILE              results file (default test/bench/results/s3.json for a full run,
                          $TMPDIR/convoy-bench-s3-partial.json otherwise)
  --markdown              also print the tables as markdown (for docs/benchmarks.md)
  --keep                  keep the temporary directory (logs, state) and print its path
  --profile               profile convoy: worker CPU profile, HTTP requests per object; and the
                          emulator's CPU profile cut to each tool's run (slower; figures are
                          marked profiled; implies --keep)
  --no-settle             measure from the first run after the case's source is written (by
                          default one tool, a peer where there is one, copies the case once
                          unmeasured first: the first run after the write pays for the
                          emulator taking to the data, whichever tool it is)
  --timeout-s S           per tool run (default 900)`;

const say = (line: string) => process.stdout.write(`[bench:s3] ${line}\n`);

type CaseId = 'a' | 'b' | 'c' | 'd' | 'e';

interface CaseDef {
  id: CaseId;
  /** objects at --scale 1; case (e) sizes its count by calibration */
  count: number;
  size: number;
  from: string;
  to: string;
  what: string;
  /** tools run when --tools is not given */
  tools: ToolName[];
  /** added to each direction of every exchange with the S3 endpoints (ms) */
  oneWayDelayMs?: number;
  /** rate the steady state (the middle 80% of object writes) and size the count by calibration */
  steady?: boolean;
}

const CLASSIC: ToolName[] = ['convoy', 'convoy-work', 'rclone16', 'rclone64', 'awscli'];

const CASES: CaseDef[] = [
  {
    id: 'a',
    count: 5000,
    size: 16 * KiB,
    from: 'minio',
    to: 'local',
    what: 'small objects between two endpoints',
    tools: CLASSIC,
  },
  {
    id: 'b',
    count: 200,
    size: 8 * MiB,
    from: 'minio',
    to: 'local',
    what: 'large objects between two endpoints',
    tools: CLASSIC,
  },
  {
    id: 'c',
    count: 2000,
    size: 256 * KiB,
    from: 'local',
    to: 'local',
    what: 'medium objects within one endpoint',
    tools: CLASSIC,
  },
  {
    id: 'd',
    count: 20000,
    size: 16 * KiB,
    from: 'minio',
    to: 'local',
    what: 'small objects between two endpoints, 20 ms added to every round trip',
    tools: ['convoy', 'convoy-work', 'rclone16', 'rclone64', 'rclone256', 'awscli'],
    oneWayDelayMs: 10,
  },
  {
    id: 'e',
    // the calibration sample at --scale 1; the case's count comes from the calibration
    count: 3000,
    size: 16 * KiB,
    from: 'minio',
    to: 'local',
    what: 'small objects between two endpoints, steady state',
    tools: ['convoy', 'convoy-work', 'rclone16', 'rclone64', 'rclone256'],
    steady: true,
  },
];

function sizeLabel(bytes: number): string {
  return bytes >= MiB ? `${bytes / MiB} MiB` : `${bytes / KiB} KiB`;
}

function parseOptions() {
  const { values } = parseArgs({
    options: {
      cases: { type: 'string', default: CASES.map((c) => c.id).join(',') },
      tools: { type: 'string' },
      scale: { type: 'string', default: '1' },
      repeat: { type: 'string', default: '1' },
      'steady-seconds': { type: 'string', default: '60' },
      'e-objects': { type: 'string' },
      direct: { type: 'boolean', default: false },
      concurrency: { type: 'string' },
      transfers: { type: 'string' },
      'worker-arg': { type: 'string', multiple: true, default: [] },
      'plan-arg': { type: 'string', multiple: true, default: [] },
      'worker-node-arg': { type: 'string', multiple: true, default: [] },
      out: { type: 'string' },
      keep: { type: 'boolean', default: false },
      markdown: { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
      'no-settle': { type: 'boolean', default: false },
      'timeout-s': { type: 'string', default: '900' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP + '\n');
    process.exit(0);
  }
  const num = (name: string, v: string, min: number) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min) throw new InputError(`--${name} must be a number >= ${min}, got "${v}"`);
    return n;
  };
  const list = (v: string) =>
    v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  const cases = list(values.cases);
  for (const c of cases)
    if (!CASES.some((d) => d.id === c))
      throw new InputError(`--cases: unknown case "${c}" (cases: ${CASES.map((d) => d.id).join(', ')})`);
  const tools = values.tools === undefined ? undefined : (list(values.tools) as ToolName[]);
  for (const t of tools ?? [])
    if (!TOOLS.includes(t)) throw new InputError(`--tools: unknown tool "${t}" (tools: ${TOOLS.join(', ')})`);
  if (tools && !tools.length) throw new InputError('--tools: name at least one tool');
  if (values.direct && cases.includes('d'))
    throw new InputError('--direct: case d adds its delay in the proxies; drop --direct or leave out case d');
  const scale = num('scale', values.scale, 0.0001);
  const steadySeconds = num('steady-seconds', values['steady-seconds'], 1);
  const eObjects =
    values['e-objects'] === undefined ? undefined : Math.floor(num('e-objects', values['e-objects'], 10));
  const chosen = CASES.filter((d) => cases.includes(d.id));
  return {
    cases: chosen,
    toolsFor: (def: CaseDef): ToolName[] => tools ?? def.tools,
    allTools: [...new Set(chosen.flatMap((d) => tools ?? d.tools))],
    scale,
    repeat: Math.floor(num('repeat', values.repeat, 1)),
    steadySeconds,
    eObjects,
    direct: values.direct,
    // not given: convoy's own defaults (what the issue's targets are about), not a bench's choice
    concurrency: values.concurrency === undefined ? undefined : Math.floor(num('concurrency', values.concurrency, 1)),
    transfers: values.transfers === undefined ? undefined : Math.floor(num('transfers', values.transfers, 1)),
    workerArgs: values['worker-arg'],
    planArgs: values['plan-arg'],
    workerNodeArgs: values['worker-node-arg'],
    out: values.out,
    full:
      scale === 1 &&
      cases.length === CASES.length &&
      tools === undefined &&
      steadySeconds === 60 &&
      eObjects === undefined &&
      !values.direct,
    keep: values.keep || values.profile,
    profile: values.profile,
    settle: !values['no-settle'],
    markdown: values.markdown,
    timeoutMs: num('timeout-s', values['timeout-s'], 1) * 1000,
  };
}

type Options = ReturnType<typeof parseOptions>;

function s3For(stack: BenchStack, remote: string): S3Client {
  const r = stack.stack.remotes[remote]!;
  return makeS3Client({ ...r, name: remote }, { maxSockets: 64 });
}

const roundTo = (n: number, digits: number) => Math.round(n * 10 ** digits) / 10 ** digits;

interface RunContext {
  opts: Options;
  stack: BenchStack;
  s3: (remote: string) => S3Client;
  convoyReady: boolean;
  profileDir?: string;
  profiledRuns: ProfiledRun[];
}

/**
 * One tool's run of one case into a fresh destination bucket: measured, its requests counted,
 * the destination checked, then deleted. Throws when the tool fails or the check does.
 */
async function runOne(
  rc: RunContext,
  def: CaseDef,
  c: BenchCase,
  tool: ToolName,
  dest: string,
  label: string,
  ctx: ToolContext,
  proxies: BenchProxies | undefined,
  bodies: BodyFactory,
  verify = true,
): Promise<ToolResult> {
  const count = c.objects.length;
  const destS3 = rc.s3(def.to);
  try {
    proxies?.reset();
    const emu0 = processCpuSeconds(rc.stack.pid);
    const state0 = rc.stack.statePid === undefined ? undefined : processCpuSeconds(rc.stack.statePid);
    const self0 = process.cpuUsage();
    const fromUs = Number(process.hrtime.bigint() / 1000n);
    // everything stops when the tool's processes exit (before convoy's items are read back)
    let end:
      | { emu?: number; state?: number; selfS: number; toUs: number; stats?: ProxyStats[]; writes?: number[] }
      | undefined;
    const stop = () => {
      if (end) return;
      const self = process.cpuUsage(self0);
      end = {
        emu: processCpuSeconds(rc.stack.pid),
        state: rc.stack.statePid === undefined ? undefined : processCpuSeconds(rc.stack.statePid),
        selfS: (self.user + self.system) / 1e6,
        toUs: Number(process.hrtime.bigint() / 1000n),
        stats: proxies?.stats(),
        writes: proxies?.s3[def.to]?.objectWriteTimes(),
      };
    };
    const run = await runTool(tool, c, dest, { ...ctx, onToolExit: stop }, label, () => ensureBucket(destS3, dest));
    stop();
    const { emu: emu1, state: state1, selfS, stats, writes } = end!;
    const window = { fromUs, toUs: end!.toUs };
    if (verify) {
      const check = await checkBucket(destS3, dest, c.objects, bodies);
      if (!check.ok) throw new Error(`destination check failed: ${describeCheck(dest, check)}`);
    }
    const emulatorCpuS = emu0 !== undefined && emu1 !== undefined ? emu1 - emu0 : undefined;
    const stateServicesCpuS = state0 !== undefined && state1 !== undefined ? state1 - state0 : undefined;
    const extra: Partial<ToolResult> = { ...run.extra };
    if (stats) {
      const items = typeof run.extra.items === 'number' ? run.extra.items : undefined;
      Object.assign(extra, requestFigures(stats, count, items));
      extra.proxy_cpu_s = roundTo(selfS, 2);
      extra.proxy_cpu_ms_per_object = roundTo((1000 * selfS) / count, 3);
    }
    // the steady state of a run that copies in one process (aws-cli's staged halves have none)
    const steady =
      def.steady && writes && !String(run.extra.note ?? '').includes('staged') ? steadyRate(writes) : undefined;
    if (steady) {
      extra.steady_objects_per_s = roundTo(steady.perS, 1);
      extra.steady_window_s = roundTo((steady.toMs - steady.fromMs) / 1000, 2);
    }
    const r = toolResult(count, c.bytes, { ...run.figures, emulatorCpuS, stateServicesCpuS }, extra);
    // every tool's run: the emulator's profile, cut to each run, compares what each costs the endpoints
    if (rc.profileDir) rc.profiledRuns.push({ label, tool, objects: count, result: r, window });
    return r;
  } finally {
    await deleteBucket(destS3, dest).catch((err) => say(`  could not delete ${dest}: ${(err as Error).message}`));
  }
}

/**
 * One unmeasured copy of the case before its measured runs, by a peer where the case has one (the
 * cheapest to run), else by the first tool. The first run after the harness wrote the source paid
 * for the emulator taking to it, whichever tool ran it: in (b) (200 x 8 MiB), rclone64 run first
 * 17.6 s and 78.9 ms of the endpoints' CPU per object, run second 11.9 s and 42.1; convoy run first
 * 19.1-22.3 s and 72.6-86.7 ms, run second 11.5-13.3 s and 38.7-41.9. The warm-up (a sample of the
 * requests) did not take that away, even at 128 x 8 MiB. Returns the tool, or undefined when its
 * copy failed (the measured runs go ahead).
 */
async function settleCase(
  rc: RunContext,
  def: CaseDef,
  c: BenchCase,
  caseTools: ToolName[],
  ctx: ToolContext,
  proxies: BenchProxies | undefined,
  bodies: BodyFactory,
): Promise<ToolName | undefined> {
  const settler = caseTools.find((t) => !t.startsWith('convoy')) ?? caseTools[0]!;
  const label = `${def.id}-settle-${settler}`;
  try {
    await runOne(rc, def, c, settler, `bench-${def.id}-settle`, label, ctx, proxies, bodies, false);
    say(`  settled: ${settler} copied the case once (not measured)`);
    return settler;
  } catch (err) {
    say(`  settling copy by ${settler} FAILED (the measured runs go ahead): ${(err as Error).message.split('\n')[0]}`);
    return undefined;
  } finally {
    // not a measured run: out of the profile report too
    const i = rc.profiledRuns.findIndex((r) => r.label === label);
    if (i >= 0) rc.profiledRuns.splice(i, 1);
  }
}

/** The longest an item of a convoy run waited from its enqueue to its claim (a stall shows here), in s. */
function longestWait(r: ToolResult): string {
  const spans = r.item_spans_s as Array<[number, number, number]> | undefined;
  return spans?.length ? Math.max(...spans.map(([created, claimed]) => claimed - created)).toFixed(2) : '?';
}

function describeRun(tool: ToolName, r: ToolResult): string[] {
  const lines = [
    `  ${tool.padEnd(9)} ${r.seconds.toFixed(2).padStart(7)} s  ${r.objects_per_s.toFixed(0).padStart(6)} obj/s  ${r.mib_per_s.toFixed(1).padStart(7)} MiB/s  peak RSS ${r.peak_rss_mib.toFixed(0)} MiB  CPU ${r.cpu_ms_per_object.toFixed(2)} ms/obj, S3 endpoints ${r.emulator_cpu_ms_per_object?.toFixed(2) ?? '?'} ms/obj${r.state_services_cpu_ms_per_object !== undefined ? `, state services ${r.state_services_cpu_ms_per_object.toFixed(2)}` : ''}`,
  ];
  if (r.s3_requests_per_object !== undefined)
    lines.push(
      `            S3 ${r.s3_requests_per_object.toFixed(3)} requests/object, $${r.usd_per_million_objects?.total.toFixed(2)} per million objects${r.steady_objects_per_s !== undefined ? `; steady ${r.steady_objects_per_s.toFixed(0)} obj/s` : ''}`,
    );
  if (tool === 'convoy' || tool === 'convoy-work')
    lines.push(
      `            worker ready ${r.worker_ready_s ?? '?'} s, first item claimed ${r.first_item_started_s ?? '?'} s, ${r.worker_processes ?? '?'} worker process(es)${r.second_process_s !== undefined ? ` (the 2nd at ${r.second_process_s} s)` : ''}, plan exited ${r.plan_seconds} s after the start; ${r.items} items, the longest from enqueue to claim ${longestWait(r)} s; ${r.worker_cpu_s !== undefined ? `worker CPU ${r.worker_cpu_s} s` : 'worked by the plan process'}, emulators ${r.emulator_cpu_s ?? '?'} s`,
    );
  return lines;
}

/**
 * Case (e)'s object count: `--e-objects`, or a calibration: each of the case's fast tools
 * (convoy and the rclones) copies a sample of the case's objects once; the fastest steady rate
 * (whole-run rate where there are no counts) x --steady-seconds x 1.2 is the count.
 */
async function sizeSteadyCase(
  rc: RunContext,
  def: CaseDef,
  ctx: ToolContext,
  proxies: BenchProxies | undefined,
): Promise<{ count: number; sizing: Record<string, unknown> }> {
  const { opts } = rc;
  if (opts.eObjects !== undefined)
    return { count: opts.eObjects, sizing: { method: '--e-objects', objects: opts.eObjects } };
  const sampleCount = Math.max(20, Math.round(def.count * opts.scale));
  const objects = caseObjects(`${def.id}-cal`, sampleCount, def.size);
  const bodies = new BodyFactory(def.size);
  const c: BenchCase = {
    id: `${def.id}-cal`,
    description: `calibration, ${sampleCount} x ${sizeLabel(def.size)}`,
    objects,
    bytes: totalBytes(objects),
    from: { remote: def.from, bucket: `bench-src-${def.id}-cal` },
    toRemote: def.to,
  };
  const tools = opts.toolsFor(def).filter((t) => t !== 'awscli' && (!t.startsWith('convoy') || rc.convoyReady));
  const calTools = tools.length ? tools : opts.toolsFor(def).slice(0, 1);
  say(`case ${def.id}: calibrating with ${calTools.join(', ')} on ${sampleCount} objects`);
  await populateBucket(rc.s3(def.from), c.from.bucket, objects, bodies);
  const rates: Record<string, number> = {};
  try {
    for (const tool of calTools) {
      try {
        const r = await runOne(
          rc,
          def,
          c,
          tool,
          `bench-${def.id}-cal-${tool}`,
          `${def.id}-cal-${tool}`,
          ctx,
          proxies,
          bodies,
          false,
        );
        // the steady rate needs per-object write times (counting proxies) and enough writes
        const w = proxies?.s3[def.to]?.objectWriteTimes();
        const steady = w ? steadyRate(w) : undefined;
        rates[tool] = roundTo(steady?.perS ?? r.objects_per_s, 1);
        say(`  calibration ${tool}: ${rates[tool]} objects/s${steady ? ' (steady)' : ' (whole run)'}`);
      } catch (err) {
        // a tool that cannot copy the sample does not size the case; its own run will fail too
        say(`  calibration ${tool} FAILED: ${(err as Error).message.split('\n')[0]}`);
      }
    }
  } finally {
    await deleteBucket(rc.s3(def.from), c.from.bucket);
  }
  const margin = 1.2;
  const { count, capped } = steadyCaseCount(Object.values(rates), opts.steadySeconds, margin);
  if (capped) say(`  case ${def.id}: capped at ${count} objects (emulator memory); the fastest tool may finish early`);
  return {
    count,
    sizing: {
      method: 'calibration',
      sample_objects: sampleCount,
      rates_objects_per_s: rates,
      steady_seconds: opts.steadySeconds,
      margin,
      capped,
    },
  };
}

async function main(): Promise<number> {
  const opts = parseOptions();
  // the SDK's notice about Node 20 (printed when a client is built) is noise in the report
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const load = loadavg();
  say(
    `cases ${opts.cases.map((c) => c.id).join(',')}, tools ${opts.allTools.join(',')}, scale ${opts.scale}, repeat ${opts.repeat}; ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), load average ${load.map((l) => l.toFixed(2)).join(' ')}`,
  );
  if (load[0]! > cpus().length * 0.5)
    say(`warning: the machine is busy (load ${load[0]!.toFixed(2)} on ${cpus().length} cores): figures will be noisy`);

  const needPeers = opts.allTools.some((t) => !t.startsWith('convoy'));
  const peers = needPeers ? await ensurePeers(say) : undefined;
  if (peers) say(`peers: ${peers.rcloneVersion}; ${peers.awsVersion} (${peers.aws})`);

  const tmpDir = mkdtempSync(path.join(tmpdir(), 'convoy-bench-s3-'));
  const logDir = tmpDir;
  say(`work directory ${tmpDir}`);
  say(
    'starting the emulators in two processes of their own: the S3 endpoints (convoy local up --extra-s3 minio) and the state services convoy keeps its tables and queue in (convoy local up)',
  );
  const profileDir = opts.profile ? path.join(tmpDir, 'profile') : undefined;
  const emulatorProfileDir = profileDir && path.join(profileDir, 'emulator');
  const stateProfileDir = profileDir && path.join(profileDir, 'state-services');
  for (const d of [emulatorProfileDir, stateProfileDir]) if (d) mkdirSync(d, { recursive: true });
  const stack = await startSplitBenchStack(path.join(tmpDir, 'stacks'), ['minio'], {
    cwd: tmpDir,
    nodeArgs: emulatorProfileDir ? ['--cpu-prof', '--cpu-prof-dir', emulatorProfileDir] : undefined,
    stateNodeArgs: stateProfileDir ? ['--cpu-prof', '--cpu-prof-dir', stateProfileDir] : undefined,
  });
  let failed = false;
  const profiledRuns: ProfiledRun[] = [];
  let proxies: BenchProxies | undefined;
  const onSignal = () => {
    void Promise.allSettled([proxies?.close(), stack.down()]).finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const clients = new Map<string, S3Client>();
  const s3 = (remote: string) => {
    if (!clients.has(remote)) clients.set(remote, s3For(stack, remote));
    return clients.get(remote)!;
  };
  try {
    say(
      `S3 endpoints up (pid ${stack.pid}): local ${stack.stack.remotes.local!.endpoint}, minio ${stack.stack.remotes.minio!.endpoint}; state services (pid ${stack.statePid})`,
    );
    const peerRemotes: PeerRemote[] = ['local', 'minio'].map((name) => {
      const r = stack.stack.remotes[name]!;
      return {
        name,
        endpoint: r.endpoint!,
        region: r.region,
        accessKeyId: r.accessKeyId!,
        secretAccessKey: r.secretAccessKey!,
      };
    });
    const peerFiles = needPeers ? writePeerConfigs(tmpDir, peerRemotes) : undefined;
    const anyConvoy = opts.allTools.some((t) => t.startsWith('convoy'));
    const convoyReady = anyConvoy ? await convoyHasS3Sync(tmpDir) : false;
    if (anyConvoy && !convoyReady)
      say('convoy: `convoy plan s3-sync` is not in the built CLI yet; convoy is reported as not available');
    const rc: RunContext = { opts, stack, s3, convoyReady, profileDir, profiledRuns };

    const baseCtx: ToolContext = {
      stack,
      tmpDir,
      logDir,
      cwd: tmpDir,
      peers,
      peerFiles,
      convoy: {
        concurrency: opts.concurrency,
        transfers: opts.transfers,
        workerArgs: opts.workerArgs,
        planArgs: opts.planArgs,
        workerNodeArgs: opts.workerNodeArgs,
      },
      profileDir,
      timeoutMs: opts.timeoutMs,
      say,
    };
    const results: BenchResults = {
      benchmark: 's3',
      generated_at: new Date().toISOString(),
      machine: {
        cpus: cpus().length,
        node: process.version,
        loadavg_at_start: load.map((l) => roundTo(l, 2)),
        note: "emulators in two separate processes on the same machine: the two fauxqs S3 endpoints (the 'emulators'/'endpoints' CPU), and dynalite + fauxqs SQS for convoy's state (its 'state services' CPU); every tool competes with them for the same cores",
        cpu_model: cpus()[0]?.model,
        memory_gib: roundTo(totalmem() / 1024 ** 3, 1),
      },
      peers: peers ? { rclone: peers.rcloneVersion, awscli: peers.awsVersion } : {},
      settings: {
        scale: opts.scale,
        repeat: opts.repeat,
        convoy_worker: baseCtx.convoy,
        rclone: 'copy --transfers 16 / 64 / 256, other flags default',
        awscli: 's3 sync, default settings (10 concurrent requests)',
        counting_proxies: opts.direct
          ? 'none (--direct): no request counts'
          : 'one node:http proxy per S3 endpoint for every tool, one each in front of SQS and DynamoDB for convoy; in the benchmark process',
        steady_seconds: opts.steadySeconds,
        prices: PRICES,
      },
      case_info: {},
      cases: {},
      targets: [],
      notes: [
        'convoy: 1 worker process started together with `convoy plan s3-sync`; time from the plan start to the last item finished',
        'seconds include process start-up for every tool; each tool copies into its own fresh destination bucket',
        'every destination is listed and compared (key and size) with the source, and 16 sampled objects compared byte by byte',
        "requests are counted by the proxies in front of the endpoints (5xx answers are counted but not billed); the harness's own listing, checks and deletes go around them",
        'case e: steady_objects_per_s is the rate of the middle 80% of the object writes the destination proxy saw; its ratio decides the target',
      ],
    };

    for (const def of opts.cases) {
      const caseDir = path.join(tmpDir, `case-${def.id}`);
      mkdirSync(caseDir, { recursive: true });
      proxies = opts.direct
        ? undefined
        : await startBenchProxies(stack, caseDir, ['local', 'minio'], def.oneWayDelayMs ?? 0);
      const ctx: ToolContext = proxies
        ? {
            ...baseCtx,
            peerFiles: needPeers ? proxies.peerFiles : undefined,
            convoyStateDir: proxies.stateDir,
            endpoints: proxies.endpoints,
          }
        : baseCtx;
      try {
        const caseLoad = loadavg().map((l) => roundTo(l, 2));
        const sized = def.steady ? await sizeSteadyCase(rc, def, ctx, proxies) : undefined;
        const count = sized?.count ?? Math.max(1, Math.round(def.count * opts.scale));
        const objects = caseObjects(def.id, count, def.size);
        const c: BenchCase = {
          id: def.id,
          description: `${count} x ${sizeLabel(def.size)}, ${def.what} (${def.from} -> ${def.to})`,
          objects,
          bytes: totalBytes(objects),
          from: { remote: def.from, bucket: `bench-src-${def.id}` },
          toRemote: def.to,
        };
        results.case_info[def.id] = {
          description: c.description,
          objects: count,
          object_size: def.size,
          total_mib: c.bytes / MiB,
          from: `${def.from}:${c.from.bucket}`,
          to: def.to,
          loadavg_at_start: caseLoad,
          ...(def.oneWayDelayMs ? { added_round_trip_ms: 2 * def.oneWayDelayMs } : {}),
          ...(sized ? { sizing: sized.sizing } : {}),
        };
        say(`case ${def.id}: ${c.description}; load average ${caseLoad.join(' ')}`);
        const bodies = new BodyFactory(def.size);
        const t0 = Date.now();
        await populateBucket(s3(def.from), c.from.bucket, objects, bodies);
        say(
          `  source ${def.from}:${c.from.bucket} written in ${((Date.now() - t0) / 1000).toFixed(1)} s (${(c.bytes / MiB).toFixed(0)} MiB)`,
        );

        const warmed = await warmUpEndpoints(
          s3(def.from),
          c.from.bucket,
          s3(def.to),
          `bench-warmup-${def.id}`,
          objects,
        );
        say(`  endpoints warmed up: ${warmed} objects read, written, listed and deleted (not measured)`);

        const caseTools = opts.toolsFor(def);
        if (opts.settle) {
          const settler = await settleCase(rc, def, c, caseTools, ctx, proxies, bodies);
          if (settler) results.case_info[def.id]!.settled_by = settler;
        }
        const runs = new Map<ToolName, Array<ToolResult | ToolEntry>>();
        for (let rep = 0; rep < opts.repeat; rep++) {
          // rotate the order between repeats so no tool always runs first (a cold emulator) or last
          const order = caseTools.map((_, i) => caseTools[(i + rep) % caseTools.length]!);
          for (const tool of order) {
            const list = runs.get(tool) ?? [];
            runs.set(tool, list);
            if (tool.startsWith('convoy') && !convoyReady) {
              list.push({ error: 'not available: `convoy plan s3-sync` is not in the built CLI' });
              continue;
            }
            const dest = `bench-${def.id}-${tool}-${rep + 1}`;
            const label = `${def.id}-${tool}-${rep + 1}`;
            try {
              const r = await runOne(rc, def, c, tool, dest, label, ctx, proxies, bodies);
              list.push(r);
              for (const line of describeRun(tool, r)) say(line);
              if (def.steady && r.seconds < opts.steadySeconds)
                say(
                  `  ${tool}: the run took ${r.seconds.toFixed(1)} s, less than --steady-seconds ${opts.steadySeconds}`,
                );
            } catch (err) {
              failed = true;
              const message = (err as Error).message;
              list.push({ error: message });
              say(`  ${tool.padEnd(9)} FAILED: ${message}`);
            }
          }
        }
        const tools: Partial<Record<ToolName, ToolEntry>> = {};
        for (const tool of caseTools) {
          const list = runs.get(tool) ?? [];
          const ok = list.filter((e): e is ToolResult => 'objects_per_s' in e);
          if (!ok.length) {
            tools[tool] = list[0] ?? { error: 'not run' };
            continue;
          }
          const secs = ok.map((r) => r.seconds);
          tools[tool] = ok.length > 1 ? { ...ok[medianIndex(secs)]!, runs_s: secs } : ok[0]!;
        }
        addRatios(tools);
        results.cases[def.id] = tools;
        await deleteBucket(s3(def.from), c.from.bucket);
      } finally {
        await proxies?.close();
        proxies = undefined;
      }
    }
    results.targets = [...checkTargets(results.cases), ...checkCostTargets(results.cases)];
    process.stdout.write('\n' + formatTable(results) + '\n\n');
    if (opts.markdown) process.stdout.write(formatMarkdown(results) + '\n');
    const out = opts.out
      ? path.resolve(opts.out)
      : opts.full
        ? path.join(REPO_ROOT, 'test/bench/results/s3.json')
        : path.join(tmpdir(), 'convoy-bench-s3-partial.json');
    writeResults(out, results);
    say(
      `results written to ${out}${opts.full || opts.out ? '' : ' (partial run: the committed results file is left alone)'}`,
    );
  } catch (err) {
    failed = true;
    say(`error: ${(err as Error).stack ?? err}`);
  } finally {
    for (const c of clients.values()) c.destroy();
    await stack.down().catch((err) => say(`convoy local down failed: ${(err as Error).message}`));
    say('emulators stopped (convoy local down)');
    if (profileDir) {
      const report = profileReport(profileDir, stack.pid, profiledRuns);
      process.stdout.write('\n' + report + '\n');
      writeFileSync(path.join(profileDir, 'report.txt'), report + '\n');
      say(`profile report: ${path.join(profileDir, 'report.txt')}`);
    }
    if (opts.keep || failed) say(`kept ${tmpDir} (logs: <label>.stdout/.stderr/.rusage)`);
    else rmSync(tmpDir, { recursive: true, force: true });
  }
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`[bench:s3] ${(err as Error).message}\n`);
    process.exit(2);
  },
);
