/**
 * One received message, worked to its end (the per-item half of the worker; ./worker.ts has the
 * receive loop, heartbeats and shutdown):
 *
 *   not ours (another run's, a paused run's)   -> handed back or dropped, nothing written
 *   claim (conditional write: lease + attempts+1)
 *     done/failed/missing -> delete the message    held by a live lease -> look again when it ends
 *   run cancelled -> the item fails RUN_CANCELLED
 *   handler(item, signal) -> complete (conditional on our lease) -> delete the message
 *     or it threw: the run's retry policy decides (shared/retry-policy.ts): retry -> `retrying`,
 *     message hidden for a full-jitter backoff; dlq -> `failed`, message to the DLQ (retryable,
 *     attempts exhausted); drop -> `failed`, message deleted (permanent)
 *   aborted by shutdown -> released: pending again, attempt not counted, message visible at once
 */
import type pLimit from 'p-limit';
import { classifyError, describeError, LeaseLostError, toError, type ErrorClass } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import { decideAfterFailure } from '../shared/retry-policy.js';
import type { ItemRef, ReceivedMessage } from '../shared/work-queue.js';
import type { CounterBuffer } from '../state/counters.js';
import { putItems } from '../state/item-bulk.js';
import type { ItemRow, NewItem } from '../state/item-row.js';
import { claimItem, completeItem, failItem, releaseItem, saveCheckpoint } from '../state/items.js';
import { addPlannedItems } from '../state/runs.js';
import type { EngineContext } from './job-kind.js';
import type { HeldLease, LeaseKeeper } from './lease-keeper.js';
import type { WorkerOptions } from './options.js';
import type { RunFinisher } from './run-finisher.js';
import type { FailureGuard } from './failure-guard.js';
import type { RunCache } from './run-cache.js';
import type { RunSlots } from './run-slots.js';
import type { ThreadPool } from './thread-pool.js';

/** The longest a completed item's message waits to be deleted with others (WorkQueue.delete). */
const LAZY_DELETE_MS = 2_000;
/** and never later than this before the message could be received again */
const DELETE_MARGIN_MS = 1_000;

/**
 * How long a done item's delete may wait: up to LAZY_DELETE_MS, while the message stays hidden
 * (a short item's message still has only the receive's few seconds; a redelivery would be
 * skipped as done, but costs a receive and a read).
 */
function lazyDeleteWithinMs(hiddenUntilMs: number): number {
  return Math.max(20, Math.min(LAZY_DELETE_MS, hiddenUntilMs - DELETE_MARGIN_MS - Date.now()));
}

/** How long a message of a run this worker does not serve (`runs` option) is left to others. */
const FOREIGN_RUN_HIDE_SECONDS = 5;
/** How long a message of a run at its concurrency share here (`convoy tune --concurrency`) waits. */
const RUN_AT_CONCURRENCY_SECONDS = 2;

/** The abort reason of items whose worker is shutting down: they are released, not failed. */
export class ShutdownAbort extends Error {
  override name = 'ShutdownAbort';
}

/** What a worker's items came to, for its heartbeat row and its shutdown event. */
export interface ItemStats {
  done: number;
  failed: number;
  released: number;
}

/** What the item runner shares with its worker. */
export interface ItemRunnerParts {
  ctx: EngineContext;
  options: WorkerOptions;
  workerId: string;
  log: Logger;
  leases: LeaseKeeper;
  counters: CounterBuffer;
  finisher: RunFinisher;
  /** pauses a run whose failed items pass its --max-failed */
  failures: FailureGuard;
  /** the runs' fleet-wide concurrency (`convoy tune --concurrency`), this process's share */
  slots: RunSlots;
  runs: RunCache;
  pool: ThreadPool;
  transfers: ReturnType<typeof pLimit>;
  /** true once shutdown began: claimed items are handed back unworked */
  isStopping(): boolean;
}

export class ItemRunner {
  readonly stats: ItemStats = { done: 0, failed: 0, released: 0 };
  private readonly ctx: EngineContext;
  private readonly options: WorkerOptions;
  private readonly id: string;
  private readonly log: Logger;
  private readonly leases: LeaseKeeper;
  private readonly counters: CounterBuffer;
  private readonly finisher: RunFinisher;
  private readonly failures: FailureGuard;
  private readonly slots: RunSlots;
  private readonly runs: RunCache;
  private readonly pool: ThreadPool;
  private readonly transfers: ReturnType<typeof pLimit>;
  private readonly isStopping: () => boolean;
  constructor(parts: ItemRunnerParts) {
    this.ctx = parts.ctx;
    this.options = parts.options;
    this.id = parts.workerId;
    this.log = parts.log;
    this.leases = parts.leases;
    this.counters = parts.counters;
    this.finisher = parts.finisher;
    this.failures = parts.failures;
    this.slots = parts.slots;
    this.runs = parts.runs;
    this.pool = parts.pool;
    this.transfers = parts.transfers;
    this.isStopping = parts.isStopping;
  }

  /** Work one received message to its end: skip, hand back, complete or fail its item. */
  async process(msg: ReceivedMessage): Promise<void> {
    let slotOf: string | undefined;
    try {
      const item = await this.claim(msg, (runId) => (slotOf = runId));
      if (item) await this.work(item, msg);
    } finally {
      if (slotOf !== undefined) this.slots.leave(slotOf);
    }
  }

  /** Gatekeeping: the claimed item, or undefined when the message was handled otherwise. */
  private async claim(msg: ReceivedMessage, tookSlot: (runId: string) => void): Promise<ItemRow | undefined> {
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
    if (await this.runs.isPaused(ref.runId)) {
      // Drop the message, leave the item pending: no attempt spent, nothing written. Hiding it
      // instead would cycle a paused backlog through every worker's receives and, past the
      // queue's maxReceiveCount, into the DLQ. `convoy resume` re-sends the run's unfinished items.
      this.ctx.events.safeEmit('item:claim:skipped', { ...ref, reason: 'paused' });
      await this.ctx.queue.delete(msg.receiptHandle);
      return;
    }
    if (!(await this.slots.enter(ref.runId, await this.runConcurrency(ref.runId)))) {
      // The run has its share of items in flight here: leave this one for later (or another worker).
      this.ctx.events.safeEmit('item:claim:skipped', { ...ref, reason: 'concurrency' });
      await this.ctx.queue.redeliverLater(msg, RUN_AT_CONCURRENCY_SECONDS).catch(() => undefined);
      return;
    }
    tookSlot(ref.runId);
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
    if (this.isStopping()) {
      // Shutdown began while we were claiming: give it back unworked (the attempt is not counted).
      await this.release(ref, msg.receiptHandle);
      return undefined;
    }
    return claim.item;
  }

  /** The run's fleet-wide concurrency as last read (none when unset, off, or unreadable). */
  private async runConcurrency(runId: string): Promise<number | undefined> {
    try {
      return (await this.runs.load(runId)).run.tuning?.concurrency ?? undefined;
    } catch {
      return undefined; // the claim path decides about a run it cannot read
    }
  }

  /** Run the kind's handler on a claimed item, then complete it (or hand the error on). */
  private async work(item: ItemRow, msg: ReceivedMessage): Promise<void> {
    const ref = { runId: item.runId, itemId: item.itemId };
    const log = this.log.child({ runId: ref.runId, itemId: ref.itemId, attempt: item.attempts });
    this.ctx.events.safeEmit('item:claimed', { ...ref, attempt: item.attempts });
    const lease = this.leases.hold(
      ref,
      msg.receiptHandle,
      item.leaseExpiresAtMs ?? this.ctx.now() + this.options.leaseMs,
      msg.hiddenUntilMs,
    );
    const started = this.ctx.now();
    try {
      const loaded = await this.runs.load(ref.runId);
      if (loaded.run.state === 'cancelled') {
        this.leases.drop(ref, lease);
        await this.failCancelled(item, msg);
        return;
      }
      const outcome = await loaded.kind.handle(item, {
        ctx: this.ctx,
        run: loaded.run,
        currentRun: async () => (await this.runs.load(ref.runId)).run,
        spec: loaded.spec,
        hint: msg.hint,
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
      // Not waited on: the row says done; the delete rides in a batch with other items' (see
      // WorkQueue.delete), and the worker settles pending deletes before it stops.
      void this.ctx.queue
        .delete(msg.receiptHandle, false, lazyDeleteWithinMs(lease.hiddenUntilMs))
        .catch((err) => log.warn({ err: toError(err).message }, 'delete failed; duplicate will be skipped'));
      this.stats.done++;
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

  /** A cancelled run's item ends RUN_CANCELLED, unworked; its message is deleted. */
  private async failCancelled(item: ItemRow, msg: ReceivedMessage): Promise<void> {
    const ref = { runId: item.runId, itemId: item.itemId };
    const errorClass: ErrorClass = 'RUN_CANCELLED';
    const message = 'run was cancelled';
    const failure = { errorClass, message, retryable: false };
    if ((await failItem(this.ctx.items, ref, this.id, failure, { retry: false })) === 'ok') {
      this.stats.failed++;
      this.counters.add(ref.runId, { failed: 1 }, item.group);
      this.ctx.events.safeEmit('item:failed', { ...ref, errorClass, message });
    }
    await this.ctx.queue.delete(msg.receiptHandle);
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
    // The run's policy (read with the run before the handler ran; the default if that read failed).
    const decision = decideAfterFailure(this.runs.retryPolicy(ref.runId), {
      retryable: err.retryable,
      attemptsMade: item.attempts,
    });
    if (decision.action === 'retry') {
      const { delayMs } = decision;
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
    this.stats.failed++;
    this.finisher.noteTerminal(ref.runId);
    this.counters.add(ref.runId, { failed: 1 }, item.group);
    this.ctx.events.safeEmit('item:failed', { ...ref, errorClass: error.errorClass, message: error.message });
    if (decision.action === 'dlq') await this.ctx.queue.moveToDlq(msg);
    else await this.ctx.queue.delete(msg.receiptHandle);
    // the run's --max-failed, before this slot takes another message (it may pause the run)
    await this.failures.noteFailed(ref.runId);
  }

  /** Give an item back unworked. Returns false when it was no longer ours (already released, taken over). */
  async release(ref: ItemRef, receiptHandle: string): Promise<boolean> {
    try {
      if ((await releaseItem(this.ctx.items, ref, this.id)) !== 'ok') return false;
      this.stats.released++;
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
    await this.ctx.queue.sendItems(rows.map((c) => ({ runId: parent.runId, itemId: c.itemId, hint: c.hint })));
    this.ctx.events.safeEmit('item:children', { runId: parent.runId, itemId: parent.itemId, count: rows.length });
    return created.length;
  }
}
