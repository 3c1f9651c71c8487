/**
 * `convoy plan s3-sync ... --work` (coordinator/cli/work-here.ts, worker/work-run.ts): the plan's
 * process works its run to the end, as an operator on one host types it: the real CLI in a child
 * process, two S3 endpoints, no `convoy worker` anywhere. What the operator checks: the exit code
 * (0 only when every item is done), the status printed at the end, the destination's bytes; a
 * failed item named with the next steps; SIGTERM mid-run leaves the rest of the run to `convoy
 * worker --run`, nothing lost; `--work --dry-run` refused before anything is written.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runStatus } from '../../coordinator/status.js';
import { listRuns } from '../../state/runs.js';
import { listWorkers } from '../../state/workers.js';
import { objectBytes, putObjects } from '../fixtures/s3-data.js';
import { CLI, exited, runCli, writeCliConfig } from '../helpers/cli.js';
import { startS3Proxy } from '../helpers/s3-proxy.js';
import { getBytes, listKeys, useTwoEndpointStack } from '../helpers/s3.js';
import { freshEnv, waitUntil, type TestEnv, type TestStack } from '../helpers/stack.js';
import { alive } from '../processes/helpers.js';
import { youngGenerationArgs } from '../../shared/young-generation.js';

let t: TestStack;
let minio: S3Client;
let local: S3Client;
useTwoEndpointStack((s) => ({ t, minio, local } = s));

const KEYS = Array.from({ length: 40 }, (_, i) => `data/part-${String(i).padStart(3, '0')}.bin`);
const sizeOf = (i: number) => 1_000 + i * 37;
/** `convoy plan s3-sync ... --work` of the source into `to`, as run `runId`, `rangeKeys` keys per item */
const planWork = (to: string, runId: string, rangeKeys: number) => [
  'plan',
  's3-sync',
  '--from',
  'minio:work-src',
  '--to',
  to,
  '--create-buckets',
  '--run',
  runId,
  '--range-keys',
  String(rangeKeys),
  '--work',
];
const ACCESS_DENIED = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>`;

/** A proxy in front of the destination that holds every PUT of a data object until release(). */
async function holdDataPuts(endpoint: string) {
  let held = 0;
  let release: () => void = () => undefined;
  const released = new Promise<void>((r) => (release = r));
  const proxy = await startS3Proxy(endpoint, {
    async holdAnswer(req) {
      if (req.method !== 'PUT' || !req.url?.includes('/data/')) return;
      held++;
      await released;
    },
  });
  return { url: proxy.url, held: () => held, release: () => release(), close: () => proxy.close() };
}

/** CLI processes a test started: one its failure left running is killed after it (afterEach). */
const started = new Set<ChildProcess>();

/**
 * The CLI in a child process, as an operator starts it; `output()` is its stdout and stderr so far.
 * `argv` (and `env`): the whole command line instead, for the README's forms that are not the bare CLI.
 */
function startCli(
  config: string,
  args: string[],
  {
    argv = [process.execPath, CLI, '--config', config, ...args],
    env = {},
  }: { argv?: string[]; env?: NodeJS.ProcessEnv } = {},
) {
  const child = spawn(argv[0]!, argv.slice(1), {
    env: { ...process.env, CONVOY_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.add(child);
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  return { child, output: () => out };
}

describe('s3-sync: convoy plan --work', () => {
  let env: TestEnv;
  let config: string;
  beforeAll(async () => {
    env = await freshEnv(t.stack);
    config = writeCliConfig(env);
    await putObjects(
      minio,
      'work-src',
      KEYS.map((key, i) => ({ key, size: sizeOf(i), contentType: 'application/octet-stream' })),
    );
  });
  afterAll(() => env?.close());
  afterEach(() => {
    for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    started.clear();
  });

  const expectCopied = async (bucket: string) => {
    expect([...(await listKeys(local, bucket)).keys()].sort()).toEqual(KEYS);
    for (const [i, key] of KEYS.entries())
      expect(await getBytes(local, bucket, key)).toEqual(objectBytes(key, sizeOf(i)));
  };

  it('plans and works the run in one process: exit 0, the status at the end, every byte copied', async () => {
    const r = await runCli(planWork('local:work-one', 'work-one', 10), { config });
    expect(r.stderr).toBe('');
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toMatch(/^run work-one: \d+ item\(s\) enqueued\. working it in this process$/m);
    expect(r.stdout).toMatch(/^run work-one \(s3-sync\) state=done$/m);
    expect(r.stdout).toMatch(/^ {2}done +4 +100\.0%$/m);
    expect(r.stdout).toMatch(new RegExp(`objects: ${KEYS.length} `));
    await expectCopied('work-one');
    // what any operator's `convoy status` then reads: the run is over, in the write path
    const s = await runStatus(env.ctx, 'work-one');
    expect([s.run.state, s.counts.done, s.counts.failed]).toEqual(['done', 4, 0]);
  });

  it("README's form for large objects: the `convoy` bin started through node with the young-generation flags works the run", async () => {
    // as the README writes it, in a shell: `convoy` found on PATH (npm's link of the package
    // "bin", node_modules/.bin/convoy), started by this suite's node with the flags
    const line = `node --min-semi-space-size=16 --max-semi-space-size=16 "$(command -v convoy)" --config "$1" ${planWork('local:work-flags', 'work-flags', 10).join(' ')}`;
    const PATH = [path.dirname(process.execPath), path.resolve('node_modules/.bin'), process.env.PATH].join(':');
    const { child, output } = startCli(config, [], {
      argv: ['bash', '-c', line, 'convoy-readme', config],
      env: { PATH },
    });
    expect(await exited(child), output()).toBe(0);
    expect(output()).toMatch(/^run work-flags \(s3-sync\) state=done$/m);
    await expectCopied('work-flags');
  });

  it('a failed item: exit 1, the failure by class and the next steps; the other items done', async () => {
    const proxy = await startS3Proxy(t.stack.remotes.local!.endpoint, {
      before: (req) =>
        req.method === 'PUT' && req.url?.includes('part-007') ? { status: 403, body: ACCESS_DENIED } : undefined,
    });
    try {
      const cfg = writeCliConfig(env, { dst: { ...t.stack.remotes.local!, endpoint: proxy.url } });
      const r = await runCli(planWork('dst:work-fail', 'work-fail', 10), { config: cfg });
      expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(1);
      expect(r.stdout).toMatch(/^ {2}failed +1 +25\.0%$/m);
      expect(r.stdout).toMatch(/^failures by class:\n {2}ACCESS_DENIED +1$/m);
      expect(r.stdout).toContain(
        '1 item(s) failed: see `convoy status --run work-fail` and `convoy report --run work-fail --failed-only`; after fixing the cause, `convoy requeue --run work-fail`',
      );
      const s = await runStatus(env.ctx, 'work-fail');
      expect([s.counts.done, s.counts.failed]).toEqual([3, 1]);
    } finally {
      await proxy.close();
    }
  });

  it('SIGTERM mid-run: the items in flight finish, exit 1, and `convoy worker --run` does the rest; nothing lost', async () => {
    // PUTs are held until the test lets them go: the process is mid-run for certain when signalled
    const proxy = await holdDataPuts(t.stack.remotes.local!.endpoint);
    try {
      const cfg = writeCliConfig(env, { dst: { ...t.stack.remotes.local!, endpoint: proxy.url } });
      const { child, output } = startCli(cfg, planWork('dst:work-stop', 'work-stop', 2));
      await waitUntil(() => proxy.held() > 0, { timeoutMs: 30_000, what: 'a PUT held' });
      child.kill('SIGTERM');
      proxy.release();
      expect(await exited(child), output()).toBe(1);
      expect(output()).toContain(
        'stopped by SIGTERM before the run ended: its items are kept; go on with `convoy worker --run work-stop`',
      );
      const mid = await runStatus(env.ctx, 'work-stop');
      expect(mid.run.state).toBe('running');
      expect(mid.counts.pending).toBeGreaterThan(0);
      expect(mid.counts.leased + mid.counts.failed).toBe(0);

      const w = await runCli(
        ['worker', '--run', 'work-stop', '--processes', '1', '--wait-seconds', '1', '--exit-when-idle', '1000'],
        { config: cfg },
      );
      expect(w.code, w.stderr).toBe(0);
      const end = await runStatus(env.ctx, 'work-stop');
      expect([end.run.state, end.counts.done, end.counts.failed]).toEqual(['done', KEYS.length / 2, 0]);
      expect(end.counters.objects).toBe(KEYS.length); // each object copied once
      await expectCopied('work-stop');
    } finally {
      proxy.release();
      await proxy.close();
    }
  });

  // `--grow-at-cpu 0.01`: the first sample window (3 s) finds this process busy enough; PUTs are
  // held until more are waiting than this process takes items at once (8 per core), which only a
  // second process's PUTs can make
  const localItems = 8 * availableParallelism();
  const twoProcesses = it.skipIf(availableParallelism() < 2 || localItems >= KEYS.length);
  /** `plan --work` of run `runId` (1 key per item) through a proxy holding every PUT, until a second process PUTs too */
  const startGrowing = async (runId: string) => {
    const proxy = await holdDataPuts(t.stack.remotes.local!.endpoint);
    const cfg = writeCliConfig(env, { dst: { ...t.stack.remotes.local!, endpoint: proxy.url } });
    const cli = startCli(cfg, [...planWork(`dst:${runId}`, runId, 1), '--grow-at-cpu', '0.01']);
    try {
      await waitUntil(() => proxy.held() > localItems, { timeoutMs: 30_000, what: 'PUTs from a second process' });
    } catch (err) {
      proxy.release();
      await proxy.close();
      throw err;
    }
    return { proxy, cfg, ...cli };
  };
  twoProcesses(
    'a CPU-bound --work process starts a `convoy worker` beside it on another core: it takes items, and stops with the run',
    async () => {
      const { proxy, child, output } = await startGrowing('work-grow');
      try {
        proxy.release();
        expect(await exited(child), output()).toBe(0);
        expect(output()).toMatch(/^run work-grow \(s3-sync\) state=done$/m);
        const s = await runStatus(env.ctx, 'work-grow');
        expect([s.run.state, s.counts.done, s.counts.failed]).toEqual(['done', KEYS.length, 0]);
        expect(s.counters.objects).toBe(KEYS.length); // each object copied once
        await expectCopied('work-grow');
        // one host (what the monitor groups): the --work process its slot 1 (the command's
        // relaunched process, coordinator/cli/relaunch.ts: not the pid started here), the second
        // process slot 2; both stopped with the run, and the second is gone
        const host = (await listWorkers(env.ctx.meta)).filter((w) => w.runs?.includes('work-grow'));
        const workPid = host.find((w) => w.slot === 1)?.pid;
        expect(workPid).not.toBe(child.pid);
        expect(host.map((w) => [w.slot, w.supervisorPid, w.state, w.done > 0]).sort()).toEqual([
          [1, workPid, 'stopped', true],
          [2, workPid, 'stopped', true],
        ]);
        expect(host.find((w) => w.slot === 2)!.workerId).toMatch(/-p2$/);
        expect(() => process.kill(host.find((w) => w.slot === 2)!.pid, 0)).toThrow();
      } finally {
        proxy.release();
        await proxy.close();
      }
    },
  );

  twoProcesses(
    'SIGTERM to a --work process that started a second one: both drain, exit 1, nothing leased; `convoy worker --run` does the rest',
    async () => {
      const runId = 'work-grow-stop';
      const { proxy, cfg, child, output } = await startGrowing(runId);
      try {
        child.kill('SIGTERM');
        proxy.release();
        expect(await exited(child), output()).toBe(1);
        expect(output()).toContain(
          `stopped by SIGTERM before the run ended: its items are kept; go on with \`convoy worker --run ${runId}\``,
        );
        const mid = await runStatus(env.ctx, runId);
        expect(mid.run.state).toBe('running');
        expect(mid.counts.leased + mid.counts.failed).toBe(0); // each item finished or given back
        const host = (await listWorkers(env.ctx.meta)).filter((w) => w.runs?.includes(runId));
        expect(host.map((w) => [w.slot, w.state]).sort()).toEqual([
          [1, 'stopped'],
          [2, 'stopped'],
        ]);
        expect(() => process.kill(host.find((w) => w.slot === 2)!.pid, 0)).toThrow();

        const w = await runCli(
          ['worker', '--run', runId, '--processes', '1', '--wait-seconds', '1', '--exit-when-idle', '1000'],
          { config: cfg },
        );
        expect(w.code, w.stderr).toBe(0);
        const end = await runStatus(env.ctx, runId);
        expect([end.run.state, end.counts.done, end.counts.failed]).toEqual(['done', KEYS.length, 0]);
        expect(end.counters.objects).toBe(KEYS.length); // each object copied once
        await expectCopied(runId);
      } finally {
        proxy.release();
        await proxy.close();
      }
    },
  );

  it('`plan s3-sync --help` lists --work (and the retry policy) among the options that apply to every kind', async () => {
    const r = await runCli(['plan', 's3-sync', '--help']);
    expect(r.code).toBe(0);
    const global = r.stdout.slice(r.stdout.indexOf('Global Options:'));
    expect(global).toMatch(/^ {2}--work +also work the run on this host/m);
    expect(global).toMatch(/^ {2}--max-attempts <n>/m);
  });

  it.each([
    {
      flags: ['--dry-run', '--work'],
      why: '--work cannot be combined with --dry-run: a dry run plans no run to work; drop one of the two',
    },
    {
      flags: ['--grow-at-cpu', '0.5'],
      why: '--grow-at-cpu applies to --work (the processes that work the run here): add --work or drop it',
    },
  ])('$flags: exit 2, one line saying why, no run written', async ({ flags, why }) => {
    const before = (await listRuns(env.ctx.meta)).length;
    const r = await runCli(['plan', 's3-sync', '--from', 'minio:work-src', '--to', 'local:work-never', ...flags], {
      config,
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`convoy: ${why}\n`);
    expect(r.stdout).toBe('');
    expect((await listRuns(env.ctx.meta)).length).toBe(before);
  });

  it('--grow-at-cpu without --work is refused before the plan reads its config: the same line with no state backend at all', async () => {
    const empty = mkdtempSync(path.join(tmpdir(), 'convoy-no-state-'));
    const r = await runCli([
      '--state-dir',
      empty,
      'plan',
      's3-sync',
      '--from',
      'minio:work-src',
      '--to',
      'local:work-never',
      '--grow-at-cpu',
      '0.5',
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      'convoy: --grow-at-cpu applies to --work (the processes that work the run here): add --work or drop it\n',
    );
    expect(readdirSync(empty)).toEqual([]);
    rmSync(empty, { recursive: true });
  });

  // last: the killed runs' messages stay in the shared queue, hidden, until their visibility ends
  /** `plan --work` of `runId` with every PUT held; the relaunched process that works it, once it beats */
  const startRelaunched = async (runId: string) => {
    const proxy = await holdDataPuts(t.stack.remotes.local!.endpoint);
    const cfg = writeCliConfig(env, { dst: { ...t.stack.remotes.local!, endpoint: proxy.url } });
    const cli = startCli(cfg, planWork(`dst:${runId}`, runId, 2));
    const ended = async () => {
      proxy.release();
      await proxy.close();
      // the killed run's messages must not keep a later test's workers busy
      const cancel = await runCli(['cancel', '--run', runId], { config: writeCliConfig(env) });
      expect(cancel.code, cancel.stderr).toBe(0);
    };
    try {
      await waitUntil(() => proxy.held() > 0, { timeoutMs: 30_000, what: 'a PUT held' });
      // the worker that beats for the run is the relaunched process (coordinator/cli/relaunch.ts)
      const working = await waitUntil(
        async () => (await listWorkers(env.ctx.meta)).find((w) => w.runs?.includes(runId)),
        { timeoutMs: 30_000, what: `a worker beating for the run; output:\n${cli.output()}` },
      );
      return { ...cli, working, ended };
    } catch (err) {
      await ended();
      throw err;
    }
  };

  it('the process that works the run is started again with the young-generation flags; a kill -9 of the started one ends it', async () => {
    const { child, working, ended } = await startRelaunched('work-relaunch');
    try {
      expect(working.pid).not.toBe(child.pid);
      const flags = youngGenerationArgs([], '');
      const cmdline = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      expect(cmdline(working.pid)).toEqual(expect.arrayContaining([...flags, CLI, 'plan', '--work']));
      expect(cmdline(child.pid!)).not.toContain(flags[0]);
      child.kill('SIGKILL');
      await exited(child);
      await waitUntil(() => !alive(working.pid), { timeoutMs: 10_000, what: `relaunched ${working.pid} gone` });
    } finally {
      await ended();
    }
  });

  it('a second SIGTERM to the started process ends the work at once, its PUTs still held: exit 137', async () => {
    const { child, output, working, ended } = await startRelaunched('work-twice');
    try {
      child.kill('SIGTERM'); // the first: drain, which waits for the held PUTs
      // once it is draining (signals sent at once would merge into one: they are not queued)
      await waitUntil(
        async () =>
          (await listWorkers(env.ctx.meta)).find((w) => w.workerId === working.workerId)?.state === 'draining',
        { timeoutMs: 30_000, what: `worker ${working.workerId} draining` },
      );
      child.kill('SIGTERM'); // the second: no more waiting
      expect(await exited(child), output()).toBe(137); // 128 + SIGKILL, the relaunched process's end
      expect(alive(working.pid)).toBe(false);
    } finally {
      await ended();
    }
  });
});
