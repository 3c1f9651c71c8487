/**
 * `npm run bench:s3`: convoy's s3-sync against `rclone copy` (--transfers 16 and 64) and
 * `aws s3 sync`, side by side on the same data in one run:
 *   (a) 5,000 x 16 KiB objects between two S3 endpoints,
 *   (b) 200 x 8 MiB objects between two S3 endpoints,
 *   (c) 2,000 x 256 KiB objects within one endpoint.
 * The emulators run in their own process (`convoy local up --extra-s3 minio`); each tool copies
 * into a fresh destination bucket, which is then checked object by object (and a sample byte by
 * byte) and deleted. Prints objects/s, MiB/s, peak RSS, CPU and the ratio to the best rclone, and
 * writes test/bench/results/s3.json. Options: --help.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { S3Client } from '@aws-sdk/client-s3';
import { makeS3Client } from '../../shared/clients.js';
import { InputError } from '../../shared/errors.js';
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
} from './lib/data.js';
import { ensurePeers, writePeerConfigs, type PeerRemote } from './lib/peers.js';
import {
  addRatios,
  checkTargets,
  formatMarkdown,
  formatTable,
  medianIndex,
  TOOLS,
  toolResult,
  writeResults,
  type BenchResults,
  type ToolEntry,
  type ToolName,
  type ToolResult,
} from './lib/results.js';
import { convoyHasS3Sync, REPO_ROOT, startBenchStack, type BenchStack } from './lib/stack.js';
import { runTool, type BenchCase, type ToolContext } from './lib/tools.js';
import { profileReport, type ProfiledRun } from './lib/profile-report.js';

const HELP = `usage: npm run bench:s3 -- [options]
  --cases a,b,c           cases to run (default all)
  --tools LIST            convoy,rclone16,rclone64,awscli (default all)
  --scale F               multiply object counts by F (e.g. 0.1 for a quick harness check)
  --repeat N              runs per tool; the median run is reported (default 1)
  --concurrency N         convoy worker --concurrency (default 16)
  --transfers N           convoy worker --transfers (default 64)
  --worker-arg ARG        extra convoy worker argument (repeatable; --worker-arg=--flag for flags)
  --worker-node-arg ARG   extra node option for the worker (repeatable), e.g.
                          --worker-node-arg=--max-old-space-size=128
  --out FILE              results file (default test/bench/results/s3.json for a full run,
                          $TMPDIR/convoy-bench-s3-partial.json otherwise)
  --markdown              also print the tables as markdown (for docs/benchmarks.md)
  --keep                  keep the temporary directory (logs, state) and print its path
  --profile               profile convoy: worker CPU profile, HTTP requests per object, emulator
                          CPU profile (slower; figures are marked profiled; implies --keep)
  --timeout-s S           per tool run (default 900)`;

const say = (line: string) => process.stdout.write(`[bench:s3] ${line}\n`);

interface CaseDef {
  id: 'a' | 'b' | 'c';
  count: number;
  size: number;
  from: string;
  to: string;
  what: string;
}

const CASES: CaseDef[] = [
  { id: 'a', count: 5000, size: 16 * KiB, from: 'minio', to: 'local', what: 'small objects between two endpoints' },
  { id: 'b', count: 200, size: 8 * MiB, from: 'minio', to: 'local', what: 'large objects between two endpoints' },
  { id: 'c', count: 2000, size: 256 * KiB, from: 'local', to: 'local', what: 'medium objects within one endpoint' },
];

function sizeLabel(bytes: number): string {
  return bytes >= MiB ? `${bytes / MiB} MiB` : `${bytes / KiB} KiB`;
}

function parseOptions() {
  const { values } = parseArgs({
    options: {
      cases: { type: 'string', default: 'a,b,c' },
      tools: { type: 'string', default: TOOLS.join(',') },
      scale: { type: 'string', default: '1' },
      repeat: { type: 'string', default: '1' },
      concurrency: { type: 'string', default: '16' },
      transfers: { type: 'string', default: '64' },
      'worker-arg': { type: 'string', multiple: true, default: [] },
      'worker-node-arg': { type: 'string', multiple: true, default: [] },
      out: { type: 'string' },
      keep: { type: 'boolean', default: false },
      markdown: { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
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
  const cases = values.cases
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const c of cases)
    if (!CASES.some((d) => d.id === c)) throw new InputError(`--cases: unknown case "${c}" (cases: a, b, c)`);
  const tools = values.tools
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean) as ToolName[];
  for (const t of tools)
    if (!TOOLS.includes(t)) throw new InputError(`--tools: unknown tool "${t}" (tools: ${TOOLS.join(', ')})`);
  const scale = num('scale', values.scale, 0.0001);
  return {
    cases: CASES.filter((d) => cases.includes(d.id)),
    tools,
    scale,
    repeat: Math.floor(num('repeat', values.repeat, 1)),
    concurrency: Math.floor(num('concurrency', values.concurrency, 1)),
    transfers: Math.floor(num('transfers', values.transfers, 1)),
    workerArgs: values['worker-arg'],
    workerNodeArgs: values['worker-node-arg'],
    out: values.out,
    full: scale === 1 && cases.length === CASES.length && tools.length === TOOLS.length,
    keep: values.keep || values.profile,
    profile: values.profile,
    markdown: values.markdown,
    timeoutMs: num('timeout-s', values['timeout-s'], 1) * 1000,
  };
}

function s3For(stack: BenchStack, remote: string): S3Client {
  const r = stack.stack.remotes[remote]!;
  return makeS3Client({ ...r, name: remote }, { maxSockets: 64 });
}

async function main(): Promise<number> {
  const opts = parseOptions();
  // the SDK's notice about Node 20 (printed when a client is built) is noise in the report
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const load = loadavg();
  say(
    `cases ${opts.cases.map((c) => c.id).join(',')}, tools ${opts.tools.join(',')}, scale ${opts.scale}, repeat ${opts.repeat}; ${cpus().length} cores, load average ${load.map((l) => l.toFixed(2)).join(' ')}`,
  );
  if (load[0]! > cpus().length * 0.5)
    say(`warning: the machine is busy (load ${load[0]!.toFixed(2)} on ${cpus().length} cores): figures will be noisy`);

  const needPeers = opts.tools.some((t) => t !== 'convoy');
  const peers = needPeers ? await ensurePeers(say) : undefined;
  if (peers) say(`peers: ${peers.rcloneVersion}; ${peers.awsVersion} (${peers.aws})`);

  const tmpDir = mkdtempSync(path.join(tmpdir(), 'convoy-bench-s3-'));
  const logDir = tmpDir;
  say(`work directory ${tmpDir}`);
  say('starting the emulators in their own process: convoy local up --state-dir <tmp>/state --extra-s3 minio');
  const profileDir = opts.profile ? path.join(tmpDir, 'profile') : undefined;
  const emulatorProfileDir = profileDir && path.join(profileDir, 'emulator');
  if (emulatorProfileDir) mkdirSync(emulatorProfileDir, { recursive: true });
  const stack = await startBenchStack(path.join(tmpDir, 'state'), ['minio'], {
    cwd: tmpDir,
    nodeArgs: emulatorProfileDir ? ['--cpu-prof', '--cpu-prof-dir', emulatorProfileDir] : undefined,
  });
  let failed = false;
  const profiledRuns: ProfiledRun[] = [];
  const onSignal = () => {
    void stack.down().finally(() => process.exit(130));
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
      `emulators up (pid ${stack.pid}): local ${stack.stack.remotes.local!.endpoint}, minio ${stack.stack.remotes.minio!.endpoint}`,
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
    const convoyReady = opts.tools.includes('convoy') ? await convoyHasS3Sync(tmpDir) : false;
    if (opts.tools.includes('convoy') && !convoyReady)
      say('convoy: `convoy plan s3-sync` is not in the built CLI yet; convoy is reported as not available');

    const ctx: ToolContext = {
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
        loadavg_at_start: load.map((l) => Math.round(l * 100) / 100),
        note: 'emulators (dynalite + two fauxqs S3 endpoints) in one separate process on the same machine; every tool competes with them for the same cores',
      },
      peers: peers ? { rclone: peers.rcloneVersion, awscli: peers.awsVersion } : {},
      settings: {
        scale: opts.scale,
        repeat: opts.repeat,
        convoy_worker: ctx.convoy,
        rclone: 'copy --transfers 16 / 64, other flags default',
        awscli: 's3 sync, default settings (10 concurrent requests)',
      },
      case_info: {},
      cases: {},
      targets: [],
      notes: [
        'convoy: 1 worker process started together with `convoy plan s3-sync`; time from the plan start to the last item finished',
        'seconds include process start-up for every tool; each tool copies into its own fresh destination bucket',
        'every destination is listed and compared (key and size) with the source, and 16 sampled objects compared byte by byte',
      ],
    };

    for (const def of opts.cases) {
      const count = Math.max(1, Math.round(def.count * opts.scale));
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
      };
      say(`case ${def.id}: ${c.description}`);
      const bodies = new BodyFactory(def.size);
      const t0 = Date.now();
      await populateBucket(s3(def.from), c.from.bucket, objects, bodies);
      say(
        `  source ${def.from}:${c.from.bucket} written in ${((Date.now() - t0) / 1000).toFixed(1)} s (${(c.bytes / MiB).toFixed(0)} MiB)`,
      );

      const runs = new Map<ToolName, Array<ToolResult | ToolEntry>>();
      for (let rep = 0; rep < opts.repeat; rep++) {
        // rotate the order between repeats so no tool always runs first (a cold emulator) or last
        const order = opts.tools.map((_, i) => opts.tools[(i + rep) % opts.tools.length]!);
        for (const tool of order) {
          const list = runs.get(tool) ?? [];
          runs.set(tool, list);
          if (tool === 'convoy' && !convoyReady) {
            list.push({ error: 'not available: `convoy plan s3-sync` is not in the built CLI' });
            continue;
          }
          const dest = `bench-${def.id}-${tool}-${rep + 1}`;
          const label = `${def.id}-${tool}-${rep + 1}`;
          const destS3 = s3(def.to);
          const emu0 = processCpuSeconds(stack.pid);
          const fromUs = Number(process.hrtime.bigint() / 1000n);
          try {
            const run = await runTool(tool, c, dest, ctx, label, () => ensureBucket(destS3, dest));
            const emu1 = processCpuSeconds(stack.pid);
            const window = { fromUs, toUs: Number(process.hrtime.bigint() / 1000n) };
            const check = await checkBucket(destS3, dest, objects, bodies);
            if (!check.ok) throw new Error(`destination check failed: ${describeCheck(dest, check)}`);
            const emulatorCpuS = emu0 !== undefined && emu1 !== undefined ? emu1 - emu0 : undefined;
            const r = toolResult(count, c.bytes, { ...run.figures, emulatorCpuS }, run.extra);
            list.push(r);
            if (tool === 'convoy' && profileDir) profiledRuns.push({ label, objects: count, result: r, window });
            say(
              `  ${tool.padEnd(9)} ${r.seconds.toFixed(2).padStart(7)} s  ${r.objects_per_s.toFixed(0).padStart(6)} obj/s  ${r.mib_per_s.toFixed(1).padStart(7)} MiB/s  peak RSS ${r.peak_rss_mib.toFixed(0)} MiB  (verified ${check.found}/${check.expected}, ${check.contentChecked} sampled)`,
            );
            if (tool === 'convoy')
              say(
                `            worker ready ${r.worker_ready_s ?? '?'} s, first item claimed ${r.first_item_started_s ?? '?'} s, plan exited ${r.plan_seconds} s after the start; ${r.items} items; worker CPU ${r.worker_cpu_s} s, emulators ${r.emulator_cpu_s ?? '?'} s`,
              );
          } catch (err) {
            failed = true;
            const message = (err as Error).message;
            list.push({ error: message });
            say(`  ${tool.padEnd(9)} FAILED: ${message}`);
          } finally {
            await deleteBucket(destS3, dest).catch((err) =>
              say(`  could not delete ${dest}: ${(err as Error).message}`),
            );
          }
        }
      }
      const tools: Partial<Record<ToolName, ToolEntry>> = {};
      for (const tool of opts.tools) {
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
    }
    results.targets = checkTargets(results.cases);
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
