/**
 * How each tool copies one case's source bucket into a fresh destination bucket, and what is
 * measured for it. Every tool is a separate process run under GNU time (wall time from spawn to
 * exit, peak RSS, CPU); the caller verifies the destination afterwards.
 *
 *  - convoy: `convoy worker` (its default: one process per core) and `convoy plan s3-sync` started together; the time is
 *    from the plan's start to the last item's `finishedAtMs` (the worker then idles a few seconds
 *    before --exit-when-idle lets it go; that idle time is not the copy's).
 *  - rclone: `rclone copy src: dst: --transfers N` (server-side copy when both are one remote).
 *  - aws-cli: `aws s3 sync`; it takes one --endpoint-url per command, so between two endpoints a
 *    user stages through local disk (download, then upload) and both halves are timed.
 *
 * When the case runs behind counting proxies (bench-proxies.ts), `convoyStateDir`, `endpoints`
 * and `peerFiles` point every tool at them.
 */
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { loadConfig, readStackFile } from '../../../shared/config.js';
import { createContext } from '../../../shared/context.js';
import { silentLogger } from '../../../shared/log.js';
import { runStatus } from '../../../coordinator/status.js';
import { itemsOfRun } from '../../../state/item-bulk.js';
import { logEntries, logTime, runMeasured, startMeasured, tail, type MeasuredResult } from './command.js';
import type { ObjectSpec } from './data.js';
import { awsEnv, awsSyncArgv, peerEnv, rcloneCopyArgv, type PeerConfigFiles, type PeerTools } from './peers.js';
import type { RunFigures, ToolName, ToolResult } from './results.js';
import { convoyArgv, convoyArgvWithNode, convoyEnv, type BenchStack } from './stack.js';

export interface BenchCase {
  id: string;
  description: string;
  objects: ObjectSpec[];
  bytes: number;
  from: { remote: string; bucket: string };
  /** destination remote; each tool gets its own fresh bucket there */
  toRemote: string;
}

export interface ConvoySettings {
  /** `convoy worker --concurrency` and `--transfers`; undefined: not given (convoy's defaults) */
  concurrency?: number;
  transfers?: number;
  /** extra `convoy worker` arguments (tuning experiments) */
  workerArgs: string[];
  /** extra `convoy plan s3-sync` arguments (e.g. --range-keys 1000) */
  planArgs: string[];
  /** extra node options for the worker process (e.g. --max-old-space-size=128) */
  workerNodeArgs: string[];
}

/** The worker's --concurrency and --transfers, for those the bench was given. */
function countArgs(c: ConvoySettings): string[] {
  return [
    ...(c.concurrency === undefined ? [] : ['--concurrency', String(c.concurrency)]),
    ...(c.transfers === undefined ? [] : ['--transfers', String(c.transfers)]),
  ];
}

export interface ToolContext {
  stack: BenchStack;
  tmpDir: string;
  logDir: string;
  cwd: string;
  peers?: PeerTools;
  peerFiles?: PeerConfigFiles;
  convoy: ConvoySettings;
  /** the state directory convoy's plan and worker run with (default: the stack's own) */
  convoyStateDir?: string;
  /** S3 endpoint per remote as the tools reach it (default: the stack's) */
  endpoints?: Record<string, string>;
  /** profile convoy's worker: CPU profile and HTTP request counts, written under this directory */
  profileDir?: string;
  timeoutMs: number;
  say(line: string): void;
  /**
   * Called once the tool's processes have exited, before anything else (convoy's read-back of its
   * items, aws-cli's staging cleanup): where the emulators' CPU and the request counts stop.
   */
  onToolExit?: () => void;
}

export interface ToolRun {
  figures: RunFigures;
  extra: Partial<ToolResult>;
}

function endpointOf(ctx: ToolContext, remote: string): string {
  const ep = ctx.endpoints?.[remote] ?? ctx.stack.stack.remotes[remote]?.endpoint;
  if (!ep) throw new Error(`no endpoint for remote ${remote}`);
  return ep;
}

/** `convoy plan s3-sync` of case `c` into `dest` as run `runId`, with `extra` arguments. */
function planArgv(c: BenchCase, dest: string, ctx: ToolContext, stateDir: string, runId: string, extra: string[]) {
  return [
    stateDir,
    'plan',
    's3-sync',
    '--run',
    runId,
    '--from',
    `${c.from.remote}:${c.from.bucket}`,
    '--to',
    `${c.toRemote}:${dest}`,
    '--create-buckets',
    ...ctx.convoy.planArgs,
    ...extra,
  ] as const;
}

async function runConvoy(c: BenchCase, dest: string, ctx: ToolContext, label: string): Promise<ToolRun> {
  const runId = `bench-${c.id}-${Date.now().toString(36)}`;
  const env = convoyEnv();
  const common = { env, cwd: ctx.cwd, logDir: ctx.logDir, timeoutMs: ctx.timeoutMs };
  const stateDir = ctx.convoyStateDir ?? ctx.stack.stateDir;
  const profile = ctx.profileDir ? profileSetup(ctx, label, stateDir) : undefined;
  // --wait-seconds 1: an empty long poll must end soon for --exit-when-idle to notice the end.
  const worker = startMeasured(
    convoyArgvWithNode(
      [...ctx.convoy.workerNodeArgs, ...(profile?.nodeArgs ?? [])],
      stateDir,
      'worker',
      '--run',
      runId,
      ...countArgs(ctx.convoy),
      '--wait-seconds',
      '1',
      '--exit-when-idle',
      '5000',
      ...ctx.convoy.workerArgs,
    ),
    { ...common, env: { ...env, ...profile?.env }, label: `${label}-worker` },
  );
  const plan = startMeasured(convoyArgv(...planArgv(c, dest, ctx, stateDir, runId, [])), {
    ...common,
    label: `${label}-plan`,
  });
  const [p, w] = await Promise.all([plan.done, worker.done]);
  ctx.onToolExit?.();
  if (p.exitCode !== 0) {
    worker.kill();
    throw new Error(
      `convoy plan failed (exit ${p.exitCode ?? p.signal}): ${p.command}\n${tail(p.stderrPath)}${tail(p.stdoutPath)}`,
    );
  }
  if (w.exitCode !== 0)
    throw new Error(`convoy worker failed (exit ${w.exitCode ?? w.signal}): ${w.command}\n${tail(w.stderrPath)}`);
  return convoyOutcome(ctx, runId, p, w, profile);
}

/**
 * `convoy plan s3-sync --work`: one process plans the run and works it to its end (no worker
 * process, no supervisor). Timed like `convoy`: from the start to the last item's finish.
 */
async function runConvoyWork(c: BenchCase, dest: string, ctx: ToolContext, label: string): Promise<ToolRun> {
  const runId = `bench-${c.id}-${Date.now().toString(36)}`;
  const env = convoyEnv();
  const stateDir = ctx.convoyStateDir ?? ctx.stack.stateDir;
  const profile = ctx.profileDir ? profileSetup(ctx, label, stateDir) : undefined;
  const p = await startMeasured(
    convoyArgvWithNode(
      [...ctx.convoy.workerNodeArgs, ...(profile?.nodeArgs ?? [])],
      ...planArgv(c, dest, ctx, stateDir, runId, ['--work']),
    ),
    { env: { ...env, ...profile?.env }, cwd: ctx.cwd, logDir: ctx.logDir, timeoutMs: ctx.timeoutMs, label },
  ).done;
  ctx.onToolExit?.();
  if (p.exitCode !== 0)
    throw new Error(
      `convoy plan --work failed (exit ${p.exitCode ?? p.signal}): ${p.command}\n${tail(p.stderrPath)}${tail(p.stdoutPath)}`,
    );
  return convoyOutcome(ctx, runId, p, undefined, profile);
}

/**
 * A convoy run's figures, from its processes and its state rows. Read from the stack's own state
 * dir (read-only; the bench changes no item): these reads are the harness's, not convoy's, and are
 * not counted. `w`: the worker process, absent when the plan's process worked the run (--work).
 */
async function convoyOutcome(
  ctx: ToolContext,
  runId: string,
  p: MeasuredResult,
  w: MeasuredResult | undefined,
  profile: ReturnType<typeof profileSetup> | undefined,
): Promise<ToolRun> {
  const log = w ?? p;
  const config = loadConfig({ stateDir: ctx.stack.stateDir, env: convoyEnv() });
  const cctx = await createContext(config, { log: silentLogger });
  try {
    const status = await runStatus(cctx, runId);
    const notDone = status.total - status.counts.done;
    if (notDone > 0 || status.counts.failed > 0) {
      throw new Error(
        `convoy run ${runId} ended with ${notDone} of ${status.total} items not done: ${JSON.stringify(status.counts)} failures ${JSON.stringify(status.failuresByClass)}\n${tail(log.stderrPath)}`,
      );
    }
    let lastFinishedAtMs = 0;
    let firstStartedAtMs = Infinity;
    let items = 0;
    // each item's enqueue, claim and finish (ms since the epoch), for a run's timeline
    const spans: Array<[number, number, number]> = [];
    for await (const page of itemsOfRun(cctx.items, runId)) {
      for (const item of page) {
        items++;
        spans.push([item.createdAtMs, item.startedAtMs ?? item.createdAtMs, item.finishedAtMs ?? item.updatedAtMs]);
        lastFinishedAtMs = Math.max(lastFinishedAtMs, item.finishedAtMs ?? item.updatedAtMs);
        firstStartedAtMs = Math.min(firstStartedAtMs, item.startedAtMs ?? item.createdAtMs);
      }
    }
    const endMs = Math.max(p.endedAtMs, lastFinishedAtMs);
    const since = (ms: number | undefined) =>
      ms !== undefined && Number.isFinite(ms) ? Math.round(ms - p.startedAtMs) / 1000 : undefined;
    return {
      figures: {
        seconds: (endMs - p.startedAtMs) / 1000,
        peakRssKiB: log.peakRssKiB,
        cpuS: (w ? w.userCpuS + w.sysCpuS : 0) + p.userCpuS + p.sysCpuS,
      },
      extra: {
        run_id: runId,
        items,
        plan_seconds: Math.round(p.wallMs) / 1000,
        // the timeline from the plan's start: worker ready, first item claimed
        worker_ready_s: since(logTime(log.stderrPath, w ? 'worker started' : 'working the run here')),
        first_item_started_s: since(firstStartedAtMs),
        // every item as [created, claimed, finished] in seconds from the start, by claim: a stall
        // (an item claimed long after it was enqueued) shows here
        item_spans_s: spans.sort((a, b) => a[1] - b[1]).map((sp) => sp.map((ms) => since(ms) ?? -1)),
        // --processes auto: how many processes the host grew to, and when it started the second
        worker_processes: Math.max(
          1,
          new Set(logEntries(log.stderrPath, 'worker process started').map((e) => e.slot)).size,
        ),
        second_process_s: since(logTime(log.stderrPath, 'every worker process is CPU-bound; starting')),
        plan_peak_rss_mib: Math.round(p.peakRssKiB / 102.4) / 10,
        ...(w ? { worker_cpu_s: Math.round((w.userCpuS + w.sysCpuS) * 100) / 100 } : { worked_by_plan: true }),
        plan_cpu_s: Math.round((p.userCpuS + p.sysCpuS) * 100) / 100,
        bytes_counted: status.counters.bytes,
        objects_counted: status.counters.objects,
        ...(profile ? { profiled: true, profile_dir: profile.dir } : {}),
        worker_args: [...countArgs(ctx.convoy), ...ctx.convoy.workerArgs].join(' ') || '(defaults)',
        ...(ctx.convoy.workerNodeArgs.length ? { worker_node_args: ctx.convoy.workerNodeArgs.join(' ') } : {}),
        ...(ctx.convoy.planArgs.length ? { plan_args: ctx.convoy.planArgs.join(' ') } : {}),
      },
    };
  } finally {
    cctx.close();
  }
}

/** Node options and environment for a profiled worker: --cpu-prof and the HTTP request counter. */
function profileSetup(
  ctx: ToolContext,
  label: string,
  stateDir: string,
): { dir: string; nodeArgs: string[]; env: Record<string, string> } {
  const dir = path.join(ctx.profileDir!, label);
  mkdirSync(dir, { recursive: true });
  // the endpoints the worker dials: the stack's, or the counting proxies' in front of them
  const stack = readStackFile(stateDir) ?? ctx.stack.stack;
  const ports: Record<string, string> = {};
  for (const [name, r] of Object.entries(stack.remotes)) if (r.endpoint) ports[new URL(r.endpoint).port] = `s3:${name}`;
  const sqsPort = stack.state.endpoints.sqs ? new URL(stack.state.endpoints.sqs).port : '';
  if (sqsPort) ports[sqsPort] = ports[sqsPort] ? `${ports[sqsPort]}+sqs` : 'sqs';
  const ddbPort = stack.state.endpoints.dynamodb ? new URL(stack.state.endpoints.dynamodb).port : '';
  if (ddbPort) ports[ddbPort] = 'dynamodb';
  return {
    dir,
    nodeArgs: ['--cpu-prof', '--cpu-prof-dir', dir, '--import', HTTP_COUNT_PRELOAD],
    env: {
      CONVOY_BENCH_HTTP_COUNT_FILE: path.join(dir, 'http-counts.json'),
      CONVOY_BENCH_PORT_NAMES: JSON.stringify(ports),
    },
  };
}

/** The compiled preload (dist/test/bench/lib/http-count.js). */
const HTTP_COUNT_PRELOAD = new URL('./http-count.js', import.meta.url).href;

async function runRclone(
  c: BenchCase,
  dest: string,
  ctx: ToolContext,
  label: string,
  transfers: number,
): Promise<ToolRun> {
  const argv = rcloneCopyArgv(
    ctx.peers!,
    ctx.peerFiles!,
    `${c.from.remote}:${c.from.bucket}`,
    `${c.toRemote}:${dest}`,
    transfers,
  );
  const r = await runMeasured(argv, {
    env: peerEnv(),
    cwd: ctx.tmpDir,
    logDir: ctx.logDir,
    label,
    timeoutMs: ctx.timeoutMs,
  });
  ctx.onToolExit?.();
  return {
    figures: { seconds: r.wallMs / 1000, peakRssKiB: r.peakRssKiB, cpuS: r.userCpuS + r.sysCpuS },
    extra: {
      command: `rclone copy ${c.from.remote}:${c.from.bucket} ${c.toRemote}:${dest} --transfers ${transfers}`,
      ...(c.from.remote === c.toRemote ? { note: 'server-side copy' } : {}),
    },
  };
}

async function runAwsCli(
  c: BenchCase,
  dest: string,
  ctx: ToolContext,
  label: string,
  ensureDestBucket: () => Promise<void>,
): Promise<ToolRun> {
  const env = awsEnv(ctx.peerFiles!);
  const opts = { env, cwd: ctx.tmpDir, logDir: ctx.logDir, timeoutMs: ctx.timeoutMs };
  // aws s3 sync does not create buckets (a user runs `aws s3 mb` first; not timed here)
  await ensureDestBucket();
  if (c.from.remote === c.toRemote) {
    const ep = endpointOf(ctx, c.toRemote);
    const r = await runMeasured(awsSyncArgv(ctx.peers!, ep, `s3://${c.from.bucket}`, `s3://${dest}`), {
      ...opts,
      label,
    });
    ctx.onToolExit?.();
    return {
      figures: { seconds: r.wallMs / 1000, peakRssKiB: r.peakRssKiB, cpuS: r.userCpuS + r.sysCpuS },
      extra: { command: `aws s3 sync s3://${c.from.bucket} s3://${dest}`, note: 'server-side copy' },
    };
  }
  const stage = path.join(ctx.tmpDir, `${label}-stage`);
  mkdirSync(stage, { recursive: true });
  try {
    const down = await runMeasured(
      awsSyncArgv(ctx.peers!, endpointOf(ctx, c.from.remote), `s3://${c.from.bucket}`, stage),
      { ...opts, label: `${label}-download` },
    );
    const up = await runMeasured(awsSyncArgv(ctx.peers!, endpointOf(ctx, c.toRemote), stage, `s3://${dest}`), {
      ...opts,
      label: `${label}-upload`,
    });
    ctx.onToolExit?.();
    return {
      figures: {
        seconds: (down.wallMs + up.wallMs) / 1000,
        peakRssKiB: Math.max(down.peakRssKiB, up.peakRssKiB),
        cpuS: down.userCpuS + down.sysCpuS + up.userCpuS + up.sysCpuS,
      },
      extra: {
        note: 'staged via local disk: aws-cli cannot copy between two endpoints in one command',
        download_s: down.wallMs / 1000,
        upload_s: up.wallMs / 1000,
        command: `aws s3 sync s3://${c.from.bucket} <dir> (source endpoint); aws s3 sync <dir> s3://${dest} (destination endpoint)`,
      },
    };
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

/** Copy case `c` into bucket `dest` with `tool`; throws when the tool fails. */
export function runTool(
  tool: ToolName,
  c: BenchCase,
  dest: string,
  ctx: ToolContext,
  label: string,
  ensureDestBucket: () => Promise<void>,
): Promise<ToolRun> {
  switch (tool) {
    case 'convoy':
      return runConvoy(c, dest, ctx, label);
    case 'convoy-work':
      return runConvoyWork(c, dest, ctx, label);
    case 'rclone16':
      return runRclone(c, dest, ctx, label, 16);
    case 'rclone64':
      return runRclone(c, dest, ctx, label, 64);
    case 'rclone256':
      return runRclone(c, dest, ctx, label, 256);
    case 'awscli':
      return runAwsCli(c, dest, ctx, label, ensureDestBucket);
  }
}
