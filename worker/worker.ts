/**
 * The worker: one process, many items in flight.
 *
 *   receive (long poll, up to `concurrency - inFlight` messages)
 *     -> claim the item (conditional write: lease + attempts+1)
 *        done/failed -> delete the message     held by a live lease -> hide the message until it expires
 *     -> run the job kind's handler with an AbortSignal (lease lost or shutdown aborts it)
 *     -> complete (conditional on our lease) -> delete the message
 *        or fail: retryable and attempts left -> `retrying`, message hidden for a full-jitter backoff
 *                 otherwise                   -> `failed`; the message goes to the DLQ (retryable
 *                                                exhausted) or is deleted (permanent)
 * Shutdown (SIGTERM/SIGINT -> stop()): stop receiving, wait up to the deadline for in-flight items,
 * then abort and release the rest (pending again, attempt not counted, message visible at once);
 * items whose handlers ignore the abort are released after `shutdownForceMs` regardless.
 */
import { hostname } from 'node:os';
import pLimit from 'p-limit';
import { fullJitterDelayMs, shouldRetry } from '../shared/backoff.js';
import { classifyError, describeError, LeaseLostError, toError, type ErrorClass } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import { sleep } from '../shared/sleep.js';
import type { ItemRef, ReceivedMessage } from '../shared/work-queue.js';
import { CounterBuffer } from '../state/counters.js';
import {
  claimItem,
  completeItem,
  failItem,
  putItems,
  releaseItem,
  saveCheckpoint,
  type ItemRow,
  type NewItem,
} from '../state/items.js';
import { addPlannedItems, getRun, type RunRow } from '../state/runs.js';
import { writeHeartbeat } from '../state/workers.js';
import type { EngineContext, JobKind } from './job-kind.js';
import { LeaseKeeper, type HeldLease } from './lease-keeper.js';
import { parseWorkerOptions, type WorkerOptions, type WorkerOptionsInput } from './options.js';
import { RunFinisher } from './run-finisher.js';
import { createThreadPool, type ThreadPool } from './thread-pool.js';

/** How long a message of a run this worker does not serve (`runs` option) is left to others. */
const FOREIGN_RUN_HIDE_SECONDS = 5;
/**
 * Receives hide messages this briefly; the loop then extends what it keeps to a full lease. A
 * receive whose response never reaches us (aborted at shutdown while the server still completes
 * the long poll, as fauxqs does and SQS may; a crash between receive and claim) so strands its
 * messages for seconds, not for a whole lease.
 */
const RECEIVE_VISIBILITY_SECONDS = 3;

class ShutdownAbort extends Error {
  override name = 'ShutdownAbort';
}

export class Worker {
  readonly options: WorkerOptions;
  readonly id: string;
  private readonly log: Logger;
  private readonly leases: LeaseKeeper;
  private readonly counters: CounterBuffer;
  private readonly pool: ThreadPool;
  private readonly transfers: ReturnType<typeof pLimit>;
  private readonly runCache = new Map<string, { run: RunRow; kind: JobKind<any>; spec: unknown; loadedAtMs: number }>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly receiveAbort = new AbortController();
  /** resolves when stop() begins: wakes a loop waiting for a free slot */
  private readonly stopRequested: Promise<void>;
  private stopping = false;
  private stopPromise: Promise<void> | undefined;
  private loopPromise: Promise<void> | undefined;
  /** the receive loop alone (stop() waits for it, so no message is taken after shutdown began) */
  private loopDone: Promise<void> | undefined;
  private timers: NodeJS.Timeout[] = [];
  private readonly startedAtMs: number;
  private done = 0;
  private failed = 0;
  private released = 0;
  private lastWorkAtMs: number;
  /** heartbeat writes and counter flushes are serialised: a late "running" beat must not land after "stopped" */
  private beating: Promise<void> = Promise.resolve();
  private flushing: Promise<void> = Promise.resolve();

  /** finishes runs in the write path: after this worker's terminal transitions, and on each heartbeat */
  private readonly finisher: RunFinisher;

  constructor(
    private readonly ctx: EngineContext,
    options: WorkerOptionsInput = {},
  ) {
    this.options = parseWorkerOptions(options);
    this.id = this.options.workerId;
    this.log = ctx.log.child({ workerId: this.id });
    this.leases = new LeaseKeeper(
      ctx.items,
      ctx.queue,
      { owner: this.id, leaseMs: this.options.leaseMs },
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
      { delayMs: this.options.runFinishDelayMs },
    );
    this.pool = createThreadPool(this.options.threads);
    this.transfers = pLimit(this.options.transfers);
    this.startedAtMs = ctx.now();
    this.lastWorkAtMs = this.startedAtMs;
    this.stopRequested = new Promise((resolve) =>
      this.receiveAbort.signal.addEventListener('abort', () => resolve(), { once: true }),
    );
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
            visibilitySeconds: RECEIVE_VISIBILITY_SECONDS,
            signal: this.receiveAbort.signal,
          }),
        );
        // Kept messages get a full lease of visibility at once (the lease keeper renews it later);
        // a failure here only means an early redelivery, which the claim turns away.
        if (messages.length && !this.stopping) {
          await this.ctx.queue
            .changeVisibilityMany(
              messages.map((m) => m.receiptHandle),
              Math.ceil(this.options.leaseMs / 1000),
            )
            .catch(() => undefined);
        }
      } catch (err) {
        if (this.stopping) break;
        this.log.warn({ err: toError(err).message }, 'receive failed; backing off');
        await sleep(1_000 + Math.random() * 2_000, this.receiveAbort.signal);
        continue;
      }
      if (!messages.length) {
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
        if (this.options.waitSeconds === 0) await sleep(200, this.receiveAbort.signal);
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
      for (const msg of messages) {
        const p = this.process(msg).catch((err) => this.onMessageError(err, msg.body));
        this.inFlight.add(p);
        void p.finally(() => {
          this.inFlight.delete(p);
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

  private async process(msg: ReceivedMessage): Promise<void> {
    if (!msg.ref) {
      this.log.error({ messageId: msg.messageId }, 'malformed message moved to the DLQ');
      await this.ctx.queue.moveToDlq(msg);
      return;
    }
    const ref = msg.ref;
    if (this.options.runs && !this.options.runs.includes(ref.runId)) {
      // Another run's item: leave it to other workers, as a fresh delayed message. Hiding this
      // one instead counted every look toward maxReceiveCount and sent pending items of runs no
      // live worker serves to the DLQ; visible again at once would be a tight loop of receives.
      this.log.debug(
        { runId: ref.runId, itemId: ref.itemId, receiveCount: msg.receiveCount },
        'item of a run this worker does not serve; left to others',
      );
      await this.ctx.queue.redeliverLater(msg, FOREIGN_RUN_HIDE_SECONDS).catch(() => undefined);
      return;
    }
    if (await this.runIsPaused(ref.runId)) {
      // Drop the message, leave the item pending: no attempt spent, nothing written. Hiding it
      // instead would cycle a paused backlog through every worker's receives and, past the
      // queue's maxReceiveCount, into the DLQ. `convoy resume` re-sends the run's unfinished items.
      this.ctx.events.safeEmit('item:claim:skipped', { ...ref, reason: 'paused' });
      await this.ctx.queue.delete(msg.receiptHandle);
      return;
    }
    const claim = await claimItem(this.ctx.items, ref, this.id, this.options.leaseMs);
    switch (claim.outcome) {
      case 'done':
      case 'failed':
      case 'missing':
        this.ctx.events.safeEmit('item:claim:skipped', { ...ref, reason: claim.outcome });
        await this.ctx.queue.delete(msg.receiptHandle);
        return;
      case 'held': {
        // Someone else is working on it (duplicate delivery): look again when their lease ends.
        this.ctx.events.safeEmit('item:claim:skipped', { ...ref, reason: 'held' });
        // As a fresh message: a long item is looked at once per lease, and hiding this delivery
        // would count each look toward maxReceiveCount (the DLQ) while the item is fine.
        const waitS = Math.max(1, Math.ceil((claim.leaseExpiresAtMs - this.ctx.now()) / 1000) + 1);
        await this.ctx.queue.redeliverLater(msg, waitS).catch(() => undefined);
        return;
      }
      case 'claimed':
        break;
    }
    if (this.stopping) {
      // Shutdown began while we were claiming: give it back unworked (the attempt is not counted).
      await this.release(ref, msg.receiptHandle);
      return;
    }
    const item = claim.item;
    const log = this.log.child({ runId: ref.runId, itemId: ref.itemId, attempt: item.attempts });
    this.ctx.events.safeEmit('item:claimed', { ...ref, attempt: item.attempts });
    const lease = this.leases.hold(
      ref,
      msg.receiptHandle,
      item.leaseExpiresAtMs ?? this.ctx.now() + this.options.leaseMs,
    );
    const started = this.ctx.now();
    try {
      const loaded = await this.loadRun(ref.runId);
      if (loaded.run.state === 'cancelled') {
        this.leases.drop(ref, lease);
        const message = 'run was cancelled';
        if (
          (await failItem(
            this.ctx.items,
            ref,
            this.id,
            { errorClass: 'RUN_CANCELLED' satisfies ErrorClass, message, retryable: false },
            { retry: false },
          )) === 'ok'
        ) {
          this.failed++;
          this.counters.add(ref.runId, { failed: 1 }, item.group);
          this.ctx.events.safeEmit('item:failed', {
            ...ref,
            errorClass: 'RUN_CANCELLED' satisfies ErrorClass,
            message,
          });
        }
        await this.ctx.queue.delete(msg.receiptHandle);
        return;
      }
      const outcome = await loaded.kind.handle(item, {
        ctx: this.ctx,
        run: loaded.run,
        spec: loaded.spec,
        signal: lease.controller.signal,
        assertLease: () => this.leases.assertValid(lease),
        log,
        pool: this.pool,
        transfers: (fn) => this.transfers(fn),
        addChildren: (children) => this.addChildren(item, lease, children),
        saveCheckpoint: async (checkpoint, partial) => {
          this.leases.assertValid(lease);
          if ((await saveCheckpoint(this.ctx.items, ref, this.id, checkpoint, partial)) !== 'ok')
            throw new LeaseLostError(ref.itemId);
        },
      });
      this.leases.assertValid(lease);
      // From here the conditional write guards the item; the heartbeat lets go of it first so a
      // renewal racing with the completion is not mistaken for a lost lease.
      this.leases.drop(ref, lease);
      const metrics = { ...outcome, durationMs: this.ctx.now() - started };
      const result = await completeItem(this.ctx.items, ref, this.id, metrics);
      if (result === 'lease-lost') throw new LeaseLostError(ref.itemId);
      await this.ctx.queue
        .delete(msg.receiptHandle)
        .catch((err) => log.warn({ err: toError(err).message }, 'delete failed; duplicate will be skipped'));
      this.done++;
      this.finisher.noteTerminal(ref.runId);
      this.counters.add(
        ref.runId,
        {
          done: 1,
          bytes: outcome.bytes,
          objects: outcome.objects,
          skipped: outcome.skipped ?? 0,
          skippedBytes: outcome.skippedBytes ?? 0,
        },
        item.group,
      );
      this.ctx.events.safeEmit('item:completed', {
        ...ref,
        durationMs: metrics.durationMs,
        bytes: outcome.bytes,
        objects: outcome.objects,
      });
    } catch (thrown) {
      await this.onItemError(thrown, item, lease, msg, log);
    } finally {
      this.leases.drop(ref, lease);
    }
  }

  private async onItemError(
    thrown: unknown,
    item: ItemRow,
    lease: HeldLease,
    msg: ReceivedMessage,
    log: Logger,
  ): Promise<void> {
    const ref = lease.ref;
    // Stop renewing before the transition: the failure's visibility delay must not be overwritten
    // by a heartbeat extending it to a full lease.
    this.leases.drop(ref, lease);
    const reason = lease.controller.signal.aborted ? lease.controller.signal.reason : undefined;
    if (reason instanceof ShutdownAbort) {
      await this.release(ref, lease.receiptHandle);
      return;
    }
    const err = reason instanceof LeaseLostError ? reason : classifyError(thrown);
    if (err instanceof LeaseLostError) {
      // Another worker owns the item now; whatever we did is redone by them. Leave the message.
      log.warn('lease lost; result discarded');
      return;
    }
    const error = describeError(err);
    if (shouldRetry(err.retryable, item.attempts, this.options.maxAttempts)) {
      const delayMs = fullJitterDelayMs(item.attempts, {
        baseMs: this.options.backoffBaseMs,
        capMs: this.options.backoffCapMs,
      });
      const r = await failItem(this.ctx.items, ref, this.id, error, {
        retry: true,
        nextAttemptAtMs: this.ctx.now() + delayMs,
      });
      if (r === 'lease-lost') return;
      log.warn({ errorClass: error.errorClass, err: error.message, delayMs }, 'item failed; will retry');
      this.counters.add(ref.runId, { retries: 1 }, item.group);
      this.ctx.events.safeEmit('item:retry', { ...ref, errorClass: error.errorClass, delayMs, attempt: item.attempts });
      await this.ctx.queue.changeVisibility(msg.receiptHandle, delayMs / 1000).catch(() => undefined);
      return;
    }
    const r = await failItem(this.ctx.items, ref, this.id, error, { retry: false });
    if (r === 'lease-lost') return;
    log.error({ errorClass: error.errorClass, err: error.message }, 'item failed');
    this.failed++;
    this.finisher.noteTerminal(ref.runId);
    this.counters.add(ref.runId, { failed: 1 }, item.group);
    this.ctx.events.safeEmit('item:failed', { ...ref, errorClass: error.errorClass, message: error.message });
    if (err.retryable) await this.ctx.queue.moveToDlq(msg);
    else await this.ctx.queue.delete(msg.receiptHandle);
  }

  /** Give an item back unworked. Returns false when it was no longer ours (already released, taken over). */
  private async release(ref: ItemRef, receiptHandle: string): Promise<boolean> {
    try {
      if ((await releaseItem(this.ctx.items, ref, this.id)) !== 'ok') return false;
      this.released++;
      this.ctx.events.safeEmit('item:released', { ...ref });
      await this.ctx.queue.changeVisibility(receiptHandle, 0);
      return true;
    } catch (err) {
      // The lease runs out on its own and the message becomes visible again: nothing is lost.
      this.log.warn({ err: toError(err).message, itemId: ref.itemId }, 'release failed; the lease will expire');
      return false;
    }
  }

  private async addChildren(parent: ItemRow, lease: HeldLease, children: NewItem[]): Promise<number> {
    if (!children.length) return 0;
    this.leases.assertValid(lease);
    const rows = children.map((c) => ({ ...c, parentId: parent.itemId }));
    // A retried parent re-creates the same ids: existing rows are kept, and every child still
    // pending is (re-)sent, because the first attempt may have died between write and send.
    const created = await putItems(this.ctx.items, parent.runId, rows, { skipExisting: true });
    await addPlannedItems(this.ctx.meta, parent.runId, created);
    this.leases.assertValid(lease);
    const refs: ItemRef[] = rows.map((c) => ({ runId: parent.runId, itemId: c.itemId }));
    await this.ctx.queue.sendItems(refs);
    this.ctx.events.safeEmit('item:children', { runId: parent.runId, itemId: parent.itemId, count: rows.length });
    return created.length;
  }

  /**
   * Whether the run is paused. The cached row is trusted only to say "not paused"; "paused" is
   * confirmed with a fresh (consistent) read, since this message may have been re-sent by a
   * resume after the row was cached, and dropping it then would strand the item until the next
   * reconcile. A failure to read says "not paused": the claim path then decides.
   */
  private async runIsPaused(runId: string): Promise<boolean> {
    try {
      if ((await this.loadRun(runId)).run.state !== 'paused') return false;
      return (await this.loadRun(runId, { fresh: true })).run.state === 'paused';
    } catch {
      return false;
    }
  }

  private async loadRun(runId: string, opts: { fresh?: boolean } = {}) {
    const cached = this.runCache.get(runId);
    if (cached && !opts.fresh && this.ctx.now() - cached.loadedAtMs < this.options.runStateTtlMs) return cached;
    const run = await getRun(this.ctx.meta, runId);
    if (!run) throw classifyError(new Error(`run ${runId} not found`));
    const kind = await this.ctx.kinds.job(run.kind);
    const spec = cached?.spec ?? kind.specSchema.parse(run.spec);
    const entry = { run, kind, spec, loadedAtMs: this.ctx.now() };
    this.runCache.set(runId, entry);
    return entry;
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
        done: this.done,
        failed: this.failed,
        instance: this.options.instance,
        runs: [...this.runCache.keys()],
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
   * Graceful, idempotent shutdown: stop receiving (and wait for the receive loop, so nothing new
   * is taken), wait for in-flight items up to the deadline, abort the rest (handlers that honour
   * their signal release their items), release the items of handlers that ignore it after
   * `shutdownForceMs`, flush counters, mark the heartbeat row stopped. Each step has its own
   * try/catch; errors are collected and logged, never thrown past the caller.
   */
  stop(signal?: string): Promise<void> {
    this.stopPromise ??= (async () => {
      this.stopping = true;
      this.ctx.events.safeEmit('worker:shutdown:begin', { workerId: this.id, signal });
      this.receiveAbort.abort();
      const errors: unknown[] = [];
      await this.beat('draining');
      try {
        await this.loopDone;
      } catch (err) {
        errors.push(err);
      }
      if (!(await settledWithin([...this.inFlight], this.options.shutdownDeadlineMs))) {
        for (const lease of this.leases.all()) lease.controller.abort(new ShutdownAbort('worker shutting down'));
        if (!(await settledWithin([...this.inFlight], this.options.shutdownForceMs))) {
          // Handlers that ignore their signal: release their items anyway. If one returns later,
          // its completion fails the lease check and its result is discarded.
          const stuck = this.leases.all();
          this.log.warn({ items: stuck.map((l) => l.ref.itemId) }, 'handlers ignored the abort; releasing their items');
          for (const lease of stuck) {
            this.leases.drop(lease.ref, lease);
            await this.release(lease.ref, lease.receiptHandle);
          }
        }
      }
      this.timers.forEach(clearInterval);
      for (const step of [
        () => this.leases.stop(),
        () => this.finisher.flush(),
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
        released: this.released,
        errors: errors.length,
      });
    })();
    return this.stopPromise;
  }
}

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
