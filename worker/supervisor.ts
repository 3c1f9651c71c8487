/**
 * A host's supervisor: `convoy worker --processes N` (default auto = one per core) starts N
 * `convoy worker` processes, keeps them running and stops them together. One JavaScript thread
 * signs, sends, parses and accounts every request of a worker process, so a process uses one
 * core; N processes use N. Each child is a whole worker (its own receive loop, leases, heartbeat
 * row, piscina pool) with its share of the host's --concurrency / --transfers / --threads
 * (./processes.ts decides the split and the restart delays; this module only acts).
 *
 * Why processes, not event loops in worker threads: a thread that crashes (out of memory, a
 * native fault) takes the whole process and every other loop with it; a process dies alone and
 * is restarted alone, and kill -9 of one is the fault the tests inject. The SDK clients, pools and
 * heap are per loop either way, so threads would save little memory.
 * Why child_process.fork, not node:cluster: cluster exists to share a listening socket between
 * workers, and the children listen on nothing (the supervisor alone serves /metrics); fork is
 * the same mechanism (an IPC channel to each child) without cluster's process-global state.
 * prom-client's AggregatorRegistry for cluster is used for what it does without cluster: its
 * static `aggregate` merges the children's registries, sent here as JSON over IPC
 * (monitor/host-metrics.ts).
 *
 * `--processes auto` starts one process with the host's whole counts and doubles them, up to
 * one per core, when every running one is CPU-bound (./processes.ts GrowthPolicy,
 * processesToStart): every `sampleMs` each running child says how much CPU it has used
 * (`convoy:cpu`), and when all of them used at least `atCores` of a core over the last window,
 * the supervisor sends the running ones their new shares (`convoy:shares`) and starts as many
 * again. Slots not started yet are 'standby'.
 *
 * `convoy plan --work` (./work-run.ts) runs a host whose slot 1 is its own process (`local`): its
 * CPU counts with the children's, its share is changed with theirs, and the children (slots 2..N,
 * all on standby at first) run `convoy worker --run <id>`.
 *
 * Children run this process's own entry and arguments unchanged (the same config, run filter,
 * kind options); what differs per child (its worker id `<id>-p<slot>`, its shares, its slot) is in
 * one environment variable (./host-link.ts). The kinds' start hooks (the uploads kind plans its
 * --customers-file) run once, here, before any child starts.
 *
 *   child exits 0 (--exit-when-idle)          its slot is done; the host exits 0 when all are
 *   child exits 2 (bad input)                  the host stops every child and exits 2
 *   child exits otherwise / by a signal        restarted in its slot (same worker id) after
 *                                              a full-jitter delay, 1 s doubling to 30 s
 *   SIGTERM / SIGINT                           forwarded to every child; each drains (finishes or
 *                                              releases its items within --shutdown-deadline-ms)
 *                                              and keeps its long poll open until all have
 *                                              (the release barrier, ./host-link.ts);
 *                                              children still there after the deadline + force
 *                                              time + 5 s are killed; exit 0 when all drained
 *   supervisor killed                          each child sees its IPC channel close and drains
 */
import { fork, type ChildProcess } from 'node:child_process';
import { toError } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import {
  CHILD_ENV,
  type ChildSettings,
  type ChildState,
  type FromChild,
  type Shares,
  type ToChild,
} from './host-link.js';
import {
  DEFAULT_RESTART,
  drainWaitMs,
  hostExitCode,
  nextStreak,
  onChildExit,
  restartDelayMs,
  type ChildExit,
  type ChildPlan,
  type GrowthPolicy,
  type RestartPolicy,
  shareOf,
  processesToStart,
} from './processes.js';

export interface SupervisorOptions {
  /** the host's worker id (children are `<id>-p<slot>`) */
  workerId: string;
  children: ChildPlan[];
  /** what every child runs: this process's entry script, arguments and node options */
  entry: string;
  args: string[];
  execArgv: string[];
  env: NodeJS.ProcessEnv;
  /** the children's shutdown deadline and force time (the drain wait is built from them) */
  shutdownDeadlineMs: number;
  shutdownForceMs: number;
  /** children keep a metrics registry for the host's /metrics. @defaultValue false */
  metrics?: boolean;
  /** `--processes auto`: start `initial` children and grow when they are CPU-bound; absent: start all */
  grow?: GrowthPolicy;
  /**
   * A worker in this process that is the host's slot 1 (`convoy plan --work`, ./work-run.ts): it
   * counts as a started process (its CPU decides growth with the children's, its share changes
   * with theirs) and the children are slots 2..N; the host runs until stop().
   */
  local?: LocalProcess;
  /** @defaultValue DEFAULT_RESTART (1 s base, 30 s cap, reset after a minute up) */
  restart?: RestartPolicy;
  log: Logger;
  random?: () => number;
  now?: () => number;
}

/** The host's slot 1 when it is this process (SupervisorOptions.local). */
export interface LocalProcess {
  /** CPU this process has used, in microseconds (user + system) */
  cpuMicros(): number;
  /** the host's counts were divided again: this process's share */
  resize(shares: Shares): void;
}

export type SlotState = 'standby' | 'starting' | ChildState | 'restarting' | 'exited';

export interface ProcessHealth {
  slot: number;
  workerId: string;
  pid: number | null;
  state: SlotState;
  restarts: number;
}

export interface HostHealth {
  /** running: every process takes work; degraded: some do; stopping / stopped: none will */
  status: 'running' | 'degraded' | 'stopping' | 'stopped';
  workerId: string;
  pid: number;
  restarts: number;
  processes: ProcessHealth[];
}

interface Slot {
  plan: ChildPlan;
  state: SlotState;
  child?: ChildProcess;
  startedAtMs: number;
  /** consecutive quick failures (restart backoff) */
  streak: number;
  restarts: number;
  lastExit?: ChildExit;
  restartTimer?: NodeJS.Timeout;
  /** draining, its items done or released, its long poll still open (host-link.ts) */
  released?: boolean;
  /** the child's last CPU answer (auto's growth), and the cores it used between its last two */
  cpu?: { micros: number; atMs: number };
  cpuCores?: number;
}

/** How long a /metrics scrape waits for each child. */
const METRICS_TIMEOUT_MS = 2_000;

export class Supervisor {
  private readonly slots: Slot[];
  private readonly log: Logger;
  private readonly now: () => number;
  private stopping = false;
  private gaveUp = false;
  private finished = false;
  private restartsTotal = 0;
  private killTimer: NodeJS.Timeout | undefined;
  private resolveDone: (code: number) => void = () => undefined;
  private readonly done = new Promise<number>((resolve) => (this.resolveDone = resolve));
  private nextRequest = 0;
  private readonly pending = new Map<number, (metrics: unknown[]) => void>();
  private sampler: NodeJS.Timeout | undefined;
  /** the local process's last CPU reading, and the cores it used between its last two */
  private localCpu: { micros: number; atMs: number } | undefined;
  private localCores: number | undefined;

  constructor(private readonly opts: SupervisorOptions) {
    this.log = opts.log.child({ hostWorkerId: opts.workerId });
    this.now = opts.now ?? Date.now;
    this.slots = opts.children.map((plan) => ({ plan, state: 'starting', startedAtMs: 0, streak: 0, restarts: 0 }));
  }

  /** Start the children; resolves with the host's exit code once all of them have exited for good. */
  run(): Promise<number> {
    const grow = this.opts.grow;
    // the local process is one of the `initial` ones, already running
    const first = grow ? Math.max(0, Math.min(grow.initial - this.localCount, this.slots.length)) : this.slots.length;
    this.slots.slice(first).forEach((slot) => (slot.state = 'standby'));
    for (const slot of this.slots.slice(0, first)) this.start(slot);
    this.sampleLocal();
    if (grow && first < this.slots.length) {
      this.sampler = setInterval(() => this.sample(), grow.sampleMs);
      this.sampler.unref();
    }
    return this.done;
  }

  /** Slots that have been started (not standby): with the local process, those sharing the host's counts. */
  private started(): Slot[] {
    return this.slots.filter((s) => s.state !== 'standby');
  }

  private get localCount(): number {
    return this.opts.local ? 1 : 0;
  }

  /** The local process's CPU since the last reading (the first one is the baseline). */
  private sampleLocal(): void {
    if (!this.opts.local) return;
    const reading = { micros: this.opts.local.cpuMicros(), atMs: this.now() };
    const last = this.localCpu;
    this.localCpu = reading;
    if (last && reading.atMs > last.atMs)
      this.localCores = (reading.micros - last.micros) / 1000 / (reading.atMs - last.atMs);
  }

  /** This slot's counts: its share of the host's totals (auto), or its plan's. */
  private sharesOf(slot: Slot): Pick<ChildSettings, 'processes' | 'concurrency' | 'transfers'> {
    if (this.opts.grow) return this.growShares(this.opts.grow, slot);
    return { processes: this.slots.length, concurrency: slot.plan.concurrency, transfers: slot.plan.transfers };
  }

  /** auto: the slot's share of the host's totals among the processes started so far. */
  private growShares(grow: GrowthPolicy, slot: Slot | undefined): Shares {
    const processes = this.started().length + this.localCount;
    return { processes, ...shareOf(grow, processes, slot?.plan.slot ?? 1) };
  }

  /**
   * auto's growth, every sample window: with every started child running and its last window's
   * CPU at or over the policy's, start the next slot; then ask the running children for their CPU
   * again (their answers make the next window's figures).
   */
  private sample(): void {
    const grow = this.opts.grow!;
    if (this.stopping) return;
    const started = this.started();
    this.sampleLocal();
    const figures = [
      ...(this.opts.local ? [this.localCores] : []),
      ...started.map((s) => (s.state === 'running' ? s.cpuCores : undefined)),
    ];
    const next = this.slots
      .filter((s) => s.state === 'standby')
      .slice(0, processesToStart(figures, this.slots.length + this.localCount, grow));
    if (next.length) {
      for (const s of next) s.state = 'starting'; // counted as started from here: the shares below include them
      this.log.info(
        {
          slots: next.map((s) => s.plan.slot),
          cpuCores: figures.map((c) => Number(c!.toFixed(2))),
          atCores: grow.atCores,
        },
        `every worker process is CPU-bound; starting ${next.length} more`,
      );
      for (const s of started) {
        s.cpuCores = undefined; // a new window under the new shares
        this.send(s, { type: 'convoy:shares', ...this.growShares(grow, s) });
      }
      this.localCores = undefined;
      this.opts.local?.resize(this.growShares(grow, undefined));
      for (const s of next) this.start(s);
      if (!this.slots.some((s) => s.state === 'standby')) clearInterval(this.sampler);
    }
    for (const s of this.started()) if (s.state === 'running') this.send(s, { type: 'convoy:cpu?' });
  }

  private onCpu(slot: Slot, micros: number): void {
    const atMs = this.now();
    const last = slot.cpu;
    slot.cpu = { micros, atMs };
    // the first answer after a (re)start is the baseline: module loading is not the work
    if (last && atMs > last.atMs) slot.cpuCores = (micros - last.micros) / 1000 / (atMs - last.atMs);
  }

  private start(slot: Slot): void {
    const shares = this.sharesOf(slot);
    const settings: ChildSettings = {
      slot: slot.plan.slot,
      processes: shares.processes,
      supervisorPid: process.pid,
      workerId: slot.plan.workerId,
      concurrency: shares.concurrency,
      transfers: shares.transfers,
      threads: slot.plan.threads,
      metrics: this.opts.metrics ?? false,
    };
    slot.state = 'starting';
    slot.startedAtMs = this.now();
    slot.restartTimer = undefined;
    slot.cpu = undefined;
    slot.cpuCores = undefined;
    let child: ChildProcess;
    try {
      child = fork(this.opts.entry, this.opts.args, {
        execArgv: this.opts.execArgv,
        env: { ...this.opts.env, [CHILD_ENV]: JSON.stringify(settings) },
        // logs go straight to the supervisor's stdout/stderr (the journal), each line with its workerId
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
    } catch (err) {
      this.log.error({ slot: slot.plan.slot, err: toError(err).message }, 'could not start a worker process');
      this.exited(slot, { code: 1, signal: null });
      return;
    }
    slot.child = child;
    child.on('message', (msg: FromChild) => this.onMessage(slot, msg));
    child.once('error', (err) => {
      // a fork that failed (no pid) never emits 'exit'
      if (child.pid === undefined && slot.child === child) {
        this.log.error({ slot: slot.plan.slot, err: err.message }, 'could not start a worker process');
        this.exited(slot, { code: 1, signal: null });
      }
    });
    child.once('exit', (code, signal) => {
      if (slot.child === child) this.exited(slot, { code, signal });
    });
    this.log.info(
      { slot: slot.plan.slot, workerId: slot.plan.workerId, pid: child.pid, restarts: slot.restarts },
      'worker process started',
    );
  }

  private onMessage(slot: Slot, msg: FromChild): void {
    if (msg?.type === 'convoy:state') {
      if (slot.state !== 'exited' && slot.state !== 'restarting') slot.state = msg.state;
    } else if (msg?.type === 'convoy:released') {
      slot.released = true;
      // a child stopping alone (the host runs on): its siblings' polls stay ours, nothing to wait for
      if (!this.stopping) this.send(slot, { type: 'convoy:end-receive' });
      else this.endReceiveIfAllReleased();
    } else if (msg?.type === 'convoy:metrics') {
      this.pending.get(msg.id)?.(msg.metrics);
    } else if (msg?.type === 'convoy:cpu') {
      this.onCpu(slot, msg.micros);
    }
  }

  /** The release barrier: once every live child has released its items, all may end their polls. */
  private endReceiveIfAllReleased(): void {
    const live = this.slots.filter((s) => s.child);
    if (!live.every((s) => s.released)) return;
    for (const s of live) this.send(s, { type: 'convoy:end-receive' });
  }

  private send(slot: Slot, msg: ToChild): void {
    try {
      if (slot.child?.connected) slot.child.send(msg, () => undefined);
    } catch {
      // the child is going; it ends its poll on its own when its channel closes
    }
  }

  private exited(slot: Slot, exit: ChildExit): void {
    slot.child = undefined;
    slot.released = undefined;
    if (this.stopping) this.endReceiveIfAllReleased();
    slot.lastExit = exit;
    const upMs = this.now() - slot.startedAtMs;
    const fields = { slot: slot.plan.slot, workerId: slot.plan.workerId, code: exit.code, signal: exit.signal, upMs };
    const next = onChildExit(exit, this.stopping);
    if (next === 'restart') {
      slot.streak = nextStreak(slot.streak, upMs, this.opts.restart ?? DEFAULT_RESTART);
      const delayMs = restartDelayMs(slot.streak, this.opts.restart ?? DEFAULT_RESTART, this.opts.random);
      slot.state = 'restarting';
      slot.restarts++;
      this.restartsTotal++;
      this.log.warn({ ...fields, delayMs, streak: slot.streak }, 'worker process exited; restarting it');
      slot.restartTimer = setTimeout(() => this.start(slot), delayMs);
      return;
    }
    slot.state = 'exited';
    if (next === 'give-up') {
      this.log.error(fields, 'worker process exited on bad input; stopping the host');
      this.gaveUp = true;
      void this.stop('SIGTERM');
    } else this.log.info(fields, next === 'done' ? 'worker process finished' : 'worker process stopped');
    this.finishIfDone();
  }

  private finishIfDone(): void {
    // a slot never started (auto did not need it) has nothing to wait for; a host whose slot 1
    // is this process runs until it is stopped
    const started = this.started();
    if (this.finished || !started.every((s) => s.state === 'exited')) return;
    if (this.opts.local && !this.stopping) return;
    this.finished = true;
    clearTimeout(this.killTimer);
    clearInterval(this.sampler);
    const code = hostExitCode(
      started.map((s) => s.lastExit ?? { code: 0, signal: null }),
      { stopped: this.stopping, gaveUp: this.gaveUp },
    );
    this.log.info({ code, restarts: this.restartsTotal }, 'every worker process has exited');
    this.resolveDone(code);
  }

  /**
   * Stop the host (idempotent): forward `signal` to every child, so each drains as a lone worker
   * does; SIGKILL the ones still there after the drain wait. Resolves with the exit code.
   */
  stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number> {
    if (this.stopping) return this.done;
    this.stopping = true;
    clearInterval(this.sampler);
    const waitMs = drainWaitMs(this.opts);
    this.log.info({ signal, waitMs }, 'stopping every worker process');
    for (const slot of this.slots) {
      if (slot.state === 'restarting') {
        // nothing runs in this slot, so nothing to drain
        clearTimeout(slot.restartTimer);
        slot.state = 'exited';
        slot.lastExit = { code: 0, signal: null };
      } else if (slot.child) {
        if (slot.state !== 'exited') slot.state = 'draining';
        slot.child.kill(signal);
      }
    }
    this.killTimer = setTimeout(() => {
      const stuck = this.slots.filter((s) => s.child);
      if (stuck.length)
        this.log.warn(
          { workers: stuck.map((s) => s.plan.workerId), waitMs },
          'worker processes did not drain in time; killing them',
        );
      for (const s of stuck) s.child?.kill('SIGKILL');
    }, waitMs);
    this.finishIfDone();
    return this.done;
  }

  health(): HostHealth {
    const processes = this.slots.map((s) => ({
      slot: s.plan.slot,
      workerId: s.plan.workerId,
      pid: s.child?.pid ?? null,
      state: s.state,
      restarts: s.restarts,
    }));
    const running = processes.filter((p) => p.state === 'running').length;
    const status = this.finished
      ? 'stopped'
      : this.stopping
        ? 'stopping'
        : running === this.started().length
          ? 'running'
          : 'degraded';
    return { status, workerId: this.opts.workerId, pid: process.pid, restarts: this.restartsTotal, processes };
  }

  /** Every live child's metrics registry as JSON (a child that does not answer in time is left out). */
  async childMetrics(timeoutMs = METRICS_TIMEOUT_MS): Promise<unknown[][]> {
    const live = this.slots.filter((s) => s.child?.connected);
    const answers = await Promise.all(
      live.map(
        (s) =>
          new Promise<unknown[] | undefined>((resolve) => {
            const id = this.nextRequest++;
            const timer = setTimeout(() => finish(undefined), timeoutMs);
            const finish = (m: unknown[] | undefined) => {
              clearTimeout(timer);
              this.pending.delete(id);
              resolve(m);
            };
            this.pending.set(id, finish);
            const msg: ToChild = { type: 'convoy:metrics?', id };
            try {
              s.child!.send(msg, (err) => err && finish(undefined));
            } catch {
              finish(undefined);
            }
          }),
      ),
    );
    return answers.filter((a): a is unknown[] => a !== undefined);
  }
}
