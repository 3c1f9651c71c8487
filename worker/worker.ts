/**
 * The worker: one process, many items in flight.
 *
 *   receive (long poll, up to `concurrency - inFlight` messages; hidden briefly, then extended
 *   to a full lease for what is kept)
 *     -> each message worked to its end by the item runner (./item-runner.ts: claim, handler,
 *        complete, or the run's retry policy on failure)
 *   heartbeat row and counter flushes on timers; runs finished in the write path (./run-finisher.ts)
 * Shutdown (SIGTERM/SIGINT -> stop()): start no new receive, wait up to the deadline for in-flight
 * items, then abort and release the rest (pending again, attempt not counted, message visible at
 * once); items whose handlers ignore the abort are released after `shutdownForceMs` regardless.
 * Only then is an open long poll aborted: see stop().
 */
import { hostname } from 'node:os';
import pLimit, { type LimitFunction } from 'p-limit';
import { classifyError, toError } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import { sleep } from '../shared/sleep.js';
import type { ReceivedMessage } from '../shared/work-queue.js';
import { CounterBuffer } from '../state/counters.js';
import { writeHeartbeat } from '../state/workers.js';
import { ItemRunner, ShutdownAbort } from './item-runner.js';
import type { EngineContext } from './job-kind.js';
import { LeaseKeeper } from './lease-keeper.js';
import { parseWorkerOptions, type WorkerOptions, type WorkerOptionsInput } from './options.js';
import { RunCache } from './run-cache.js';
import { FailureGuard } from './failure-guard.js';
import { RunFinisher } from './run-finisher.js';
import { RunSlots } from './run-slots.js';
import { createThreadPool, type ThreadPool } from './thread-pool.js';

export class Worker {
  readonly options: WorkerOptions;
  readonly id: string;
  private readonly log: Logger;
  private readonly leases: LeaseKeeper;
  private readonly counters: CounterBuffer;
  private readonly pool: ThreadPool;
  private readonly runs: RunCache;
  /** works each received message to its end */
  private readonly items: ItemRunner;
  private readonly inFlight = new Set<Promise<void>>();
  /** object transfers in flight across items (--transfers; resize() changes it) */
  private readonly transfers: LimitFunction;
  /** aborts the open long poll: only once the items are drained or released (see stop()) */
  private readonly receiveAbort = new AbortController();
  /** aborted when stop() begins: ends the receive loop's sleeps */
  private readonly stopAbort = new AbortController();
  /**
   * What stop() waits for before it ends the long poll (at most `maxWaitMs`: until this worker's
   * own release would be due at the latest). A supervisor's children pass the host's release
   * barrier, so no child aborts its poll while a sibling still releases items (host-link.ts).
   */
  private readonly receiveGate: ((maxWaitMs: number) => Promise<void>) | undefined;
  /**
   * stop() always lets the open poll come back by itself (up to POLL_RETURN_GRACE_MS) before it
   * aborts it: for a process that exits once stopped with short polls (`plan --work`), so that
   * no poll of it stays open on the server to hide the next messages sent (the next run's first).
   */
  private readonly pollReturnsOnStop: boolean;
  /** resolves when stop() begins: wakes a loop waiting for a free slot */
  private readonly stopRequested: Promise<void>;
  private stopping = false;
  private stopPromise: Promise<void> | undefined;
  private loopPromise: Promise<void> | undefined;
  /** the receive loop alone (stop() waits for it, so no message is taken after shutdown began) */
  private loopDone: Promise<void> | undefined;
  private timers: NodeJS.Timeout[] = [];
  private readonly startedAtMs: number;
  private lastWorkAtMs: number;
  /** heartbeat writes and counter flushes are serialised: a late "running" beat must not land after "stopped" */
  private beating: Promise<void> = Promise.resolve();
  private flushing: Promise<void> = Promise.resolve();

  /** finishes runs in the write path: after this worker's terminal transitions, and on each heartbeat */
  private readonly finisher: RunFinisher;
  /** pauses runs whose failed items pass their --max-failed, in the write path */
  private readonly failures: FailureGuard;

  constructor(
    private readonly ctx: EngineContext,
    options: WorkerOptionsInput = {},
    hooks: { receiveGate?: (maxWaitMs: number) => Promise<void>; pollReturnsOnStop?: boolean } = {},
  ) {
    this.receiveGate = hooks.receiveGate;
    this.pollReturnsOnStop = hooks.pollReturnsOnStop === true;
    this.options = parseWorkerOptions(options);
    this.id = this.options.workerId;
    this.log = ctx.log.child({ workerId: this.id });
    this.leases = new LeaseKeeper(
      ctx.items,
      ctx.queue,
      {
        owner: this.id,
        leaseMs: this.options.leaseMs,
        receiveVisibilityMs: this.options.receiveVisibilitySeconds * 1000,
      },
      ctx.events,
      this.log,
      ctx.now,
    );
    this.counters = new CounterBuffer(ctx.meta, this.id);
    this.finisher = new RunFinisher(
      ctx.meta,
      ctx.items,
      this.log,
      (runId) => ctx.events.safeEmit('run:finished', { runId }),
      {
        delayMs: this.options.runFinishDelayMs,
        holdsItemOf: (runId) => this.leases.all().some((lease) => lease.ref.runId === runId),
      },
    );
    this.pool = createThreadPool(this.options.threads);
    this.runs = new RunCache(ctx, this.options.runStateTtlMs, this.log);
    this.failures = new FailureGuard(ctx.meta, ctx.items, this.log, async (runId, reason) => {
      ctx.events.safeEmit('run:paused:max-failed', { runId, failed: reason.failed, allowed: reason.allowed });
      await this.runs.load(runId, { fresh: true }).catch(() => undefined);
    });
    this.transfers = pLimit(this.options.transfers);
    this.items = new ItemRunner({
      ctx,
      options: this.options,
      workerId: this.id,
      log: this.log,
      leases: this.leases,
      counters: this.counters,
      finisher: this.finisher,
      failures: this.failures,
      slots: new RunSlots(ctx),
      runs: this.runs,
      pool: this.pool,
      transfers: this.transfers,
      isStopping: () => this.stopping,
    });
    this.startedAtMs = ctx.now();
    this.lastWorkAtMs = this.startedAtMs;
    this.stopRequested = new Promise((resolve) =>
      this.stopAbort.signal.addEventListener('abort', () => resolve(), { once: true }),
    );
  }

  /**
   * A supervisor divided the host's counts again (`--processes auto` started another process):
   * the next receive asks for at most the new concurrency, the next transfers start under the new
   * limit; what is in flight finishes.
   */
  resize(shares: { processes: number; concurrency: number; transfers: number }): void {
    this.options.concurrency = shares.concurrency;
    this.options.transfers = shares.transfers;
    this.transfers.concurrency = shares.transfers;
    if (this.options.supervised) this.options.supervised.processes = shares.processes;
  }

  get inFlightCount(): number {
    return this.inFlight.size;
  }

  /** Start the loop; resolves when the worker has stopped (after stop() or idle exit). */
  start(): Promise<void> {
    if (this.loopPromise) return this.loopPromise;
    this.leases.start();
    this.timers.push(
      setInterval(() => {
        void this.beat(this.stopping ? 'draining' : 'running');
        void this.finisher.sweep();
      }, this.options.heartbeatMs),
      setInterval(() => void this.flushCounters(), this.options.counterFlushMs),
    );
    this.timers.forEach((t) => t.unref());
    this.ctx.events.safeEmit('worker:started', { workerId: this.id });
    this.loopPromise = (async () => {
      await this.beat('running');
      this.loopDone = this.loop();
      await this.loopDone;
      await this.stop();
    })();
    return this.loopPromise;
  }

  private async loop(): Promise<void> {
    const slots = pLimit(1); // receives are sequential; items run concurrently
    while (!this.stopping) {
      const free = this.options.concurrency - this.inFlight.size;
      if (free <= 0) {
        await Promise.race([...this.inFlight, this.stopRequested]);
        continue;
      }
      let messages: ReceivedMessage[];
      try {
        messages = await slots(() =>
          this.ctx.queue.receive({
            max: free,
            waitSeconds: this.options.waitSeconds,
            visibilitySeconds: this.options.receiveVisibilitySeconds,
            signal: this.receiveAbort.signal,
          }),
        );
      } catch (err) {
        if (this.stopping) break;
        this.log.warn({ err: toError(err).message }, 'receive failed; backing off');
        await sleep(1_000 + Math.random() * 2_000, this.stopAbort.signal);
        continue;
      }
      if (!messages.length) {
        // nothing new: deletes held back to share a request have nothing to wait for
        if (this.inFlight.size === 0) await this.ctx.queue.settleDeletes();
        this.ctx.events.safeEmit('worker:receive:empty', { workerId: this.id });
        if (
          this.options.exitWhenIdleMs > 0 &&
          this.inFlight.size === 0 &&
          this.ctx.now() - this.lastWorkAtMs >= this.options.exitWhenIdleMs &&
          (await this.queueDrained())
        ) {
          this.log.info('queue idle; exiting');
          break;
        }
        if (this.options.waitSeconds === 0) await sleep(200, this.stopAbort.signal);
        continue;
      }
      if (this.stopping) {
        // Received just as shutdown began: hand them straight back rather than start new work.
        await this.ctx.queue
          .changeVisibilityMany(
            messages.map((m) => m.receiptHandle),
            0,
          )
          .catch(() => undefined);
        break;
      }
      this.lastWorkAtMs = this.ctx.now();
      this.leases.received(
        messages.map((m) => m.receiptHandle),
        Math.min(...messages.map((m) => m.hiddenUntilMs)),
      );
      for (const msg of messages) {
        const p = this.items.process(msg).catch((err) => this.onMessageError(err, msg.body));
        this.inFlight.add(p);
        void p.finally(() => {
          this.inFlight.delete(p);
          this.leases.settled(msg.receiptHandle);
          this.lastWorkAtMs = this.ctx.now();
        });
      }
    }
  }

  /** Nothing visible, in flight (incl. retries waiting out their backoff) or delayed. */
  private async queueDrained(): Promise<boolean> {
    try {
      const d = await this.ctx.queue.depth();
      if (d.visible + d.inFlight + d.delayed === 0) return true;
      this.lastWorkAtMs = this.ctx.now();
      return false;
    } catch {
      return false;
    }
  }

  private beat(state: 'running' | 'draining' | 'stopped'): Promise<void> {
    this.beating = this.beating.then(() => this.writeBeat(state));
    return this.beating;
  }

  private async writeBeat(state: 'running' | 'draining' | 'stopped'): Promise<void> {
    try {
      await writeHeartbeat(this.ctx.meta, {
        workerId: this.id,
        host: hostname(),
        pid: process.pid,
        startedAtMs: this.startedAtMs,
        lastBeatAtMs: this.ctx.now(),
        state,
        inFlight: this.inFlight.size,
        done: this.items.stats.done,
        failed: this.items.stats.failed,
        instance: this.options.instance,
        runs: this.runs.runIds(),
        ...(this.options.supervised && {
          supervisorPid: this.options.supervised.pid,
          slot: this.options.supervised.slot,
          processes: this.options.supervised.processes,
        }),
      });
    } catch (err) {
      this.log.warn({ err: toError(err).message }, 'heartbeat write failed');
    }
  }

  /**
   * An error outside an item's handler: the queue or the state store failed while claiming,
   * completing or deleting. Nothing is lost (the message comes back when its visibility runs out,
   * and the item's state is whatever the last successful conditional write made it), so a
   * retryable cause (network, throttling, 5xx) is a warning with its class; anything else is a bug
   * worth an error line.
   */
  private onMessageError(thrown: unknown, body: string): void {
    const err = classifyError(thrown);
    const fields = { errorClass: err.errorClass, err: err.message, message: body.slice(0, 200) };
    if (err.retryable)
      this.log.warn(fields, 'queue or state store unavailable while handling a message; it will be redelivered');
    else this.log.error(fields, 'unexpected error handling a message');
  }

  /** Flush counters (serialised with other flushes); failures keep the deltas for the next one. */
  private flushCounters(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      try {
        await this.counters.flush();
      } catch (err) {
        this.log.warn({ err: toError(err).message }, 'counter flush failed; will retry');
      }
    });
    return this.flushing;
  }

  /**
   * Graceful, idempotent shutdown: start no new receive, wait for in-flight items up to the
   * deadline, abort the rest (handlers that honour their signal release their items), release the
   * items of handlers that ignore it after `shutdownForceMs`, then end the open long poll (after
   * the host's release barrier, and up to POLL_RETURN_GRACE_MS for the poll to come back by itself
   * when items were given back) and wait for the receive loop, so nothing new is taken, flush
   * counters, mark the heartbeat row stopped. Each step has its own try/catch; errors are
   * collected and logged, never thrown past the caller.
   */
  stop(signal?: string): Promise<void> {
    this.stopPromise ??= (async () => {
      this.stopping = true;
      this.ctx.events.safeEmit('worker:shutdown:begin', { workerId: this.id, signal });
      this.stopAbort.abort();
      const releasedByMs = this.ctx.now() + this.options.shutdownDeadlineMs + this.options.shutdownForceMs;
      const releasedBefore = this.items.stats.released;
      const errors: unknown[] = [];
      await this.beat('draining');
      if (!(await settledWithin([...this.inFlight], this.options.shutdownDeadlineMs))) {
        for (const lease of this.leases.all()) lease.controller.abort(new ShutdownAbort('worker shutting down'));
        if (!(await settledWithin([...this.inFlight], this.options.shutdownForceMs))) {
          // Handlers that ignore their signal: release their items anyway. If one returns later,
          // its completion fails the lease check and its result is discarded.
          const stuck = this.leases.all();
          this.log.warn({ items: stuck.map((l) => l.ref.itemId) }, 'handlers ignored the abort; releasing their items');
          for (const lease of stuck) {
            this.leases.drop(lease.ref, lease);
            await this.items.release(lease.ref, lease.receiptHandle);
          }
        }
      }
      // The long poll is aborted only now. Aborted earlier, it stays open on the server (SQS and
      // fauxqs finish it and hand its messages to a closed socket), takes the items released
      // above, and hides them for the receive visibility; still ours, it returns them and the
      // loop hands them straight back. The same holds for the polls of a supervisor's other
      // children: the gate waits until every child of the host has released its items.
      // Waiting for the loop means no message is taken after this.
      try {
        await this.receiveGate?.(Math.max(0, releasedByMs - this.ctx.now()));
      } catch (err) {
        errors.push(err);
      }
      // An item given back a moment ago may be in our poll's answer on the wire: aborted now, that
      // answer is lost and its items stay hidden for the receive visibility (10 s, once in a loaded
      // suite run). So when this process, or a sibling whose items our poll may take, gave items
      // back, the poll gets a short while to come back by itself (the loop hands its messages back).
      if (this.items.stats.released > releasedBefore || this.receiveGate || this.pollReturnsOnStop)
        await settledWithin([this.loopDone ?? Promise.resolve()], POLL_RETURN_GRACE_MS);
      this.receiveAbort.abort();
      try {
        await this.loopDone;
      } catch (err) {
        errors.push(err);
      }
      this.timers.forEach(clearInterval);
      for (const step of [
        () => this.leases.stop(),
        () => this.ctx.queue.settleDeletes(),
        () => this.finisher.flush(),
        () => this.failures.flush(),
        () => this.flushCounters(),
        () => this.counters.flush(),
        () => this.beat('stopped'),
        () => this.pool.close(),
      ]) {
        try {
          await step();
        } catch (err) {
          errors.push(err);
        }
      }
      if (errors.length) this.log.warn({ errors: errors.map((e) => toError(e).message) }, 'errors during shutdown');
      this.ctx.events.safeEmit('worker:shutdown:complete', {
        workerId: this.id,
        released: this.items.stats.released,
        errors: errors.length,
      });
    })();
    return this.stopPromise;
  }
}

/**
 * How long a stopping worker lets its open long poll come back by itself after items were given
 * back, before it aborts it: the poll's answer, if it carries those items, is on its way (a
 * local round trip is a few milliseconds; a loaded host's, hundreds).
 */
const POLL_RETURN_GRACE_MS = 1_000;

/** Whether every promise settled within `ms`. */
async function settledWithin(promises: Promise<unknown>[], ms: number): Promise<boolean> {
  if (!promises.length) return true;
  const timer = new AbortController();
  const settled = await Promise.race([
    Promise.allSettled(promises).then(() => true),
    sleep(ms, timer.signal).then(() => false),
  ]);
  timer.abort();
  return settled;
}
