/**
 * The heartbeat for held items (BullMQ's lock manager, adapted): every `renewEveryMs` it renews
 * the DynamoDB lease of every held item and extends its SQS message's visibility in batches.
 * A lease that cannot be renewed because another worker owns it, or that ran out locally while
 * DynamoDB was unreachable, aborts the item's AbortController: the handler's I/O stops and its
 * result is thrown away (the new owner redoes the item; effects are idempotent).
 */
import { setMaxListeners } from 'node:events';
import { LeaseLostError } from '../shared/errors.js';
import type { ConvoyEmitter } from '../shared/events.js';
import type { Logger } from '../shared/log.js';
import type { ItemRef, WorkQueue } from '../shared/work-queue.js';
import { renewLease } from '../state/items.js';
import type { ItemStore } from '../state/item-row.js';

export interface HeldLease {
  ref: ItemRef;
  receiptHandle: string;
  controller: AbortController;
  /** lease expiry as last written by this worker */
  expiresAtMs: number;
}

export interface LeaseKeeperOptions {
  owner: string;
  leaseMs: number;
  /** @defaultValue leaseMs / 3 */
  renewEveryMs?: number;
  /** a lease is treated as lost this long before it runs out (clock skew between hosts) @defaultValue 2000 */
  safetyMarginMs?: number;
}

const keyOf = (ref: ItemRef) => `${ref.runId}\u0000${ref.itemId}`;

export class LeaseKeeper {
  private readonly held = new Map<string, HeldLease>();
  private timer: NodeJS.Timeout | undefined;
  private renewing: Promise<void> | undefined;
  private readonly renewEveryMs: number;
  private readonly safetyMarginMs: number;

  constructor(
    private readonly items: ItemStore,
    private readonly queue: WorkQueue,
    private readonly opts: LeaseKeeperOptions,
    private readonly events: ConvoyEmitter,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.renewEveryMs = opts.renewEveryMs ?? Math.floor(opts.leaseMs / 3);
    this.safetyMarginMs = opts.safetyMarginMs ?? Math.min(2_000, Math.floor(opts.leaseMs / 4));
  }

  start(): void {
    this.timer ??= setInterval(() => {
      if (!this.renewing) this.renewing = this.renewAll().finally(() => (this.renewing = undefined));
    }, this.renewEveryMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.renewing;
  }

  hold(ref: ItemRef, receiptHandle: string, expiresAtMs: number): HeldLease {
    const lease: HeldLease = { ref, receiptHandle, controller: new AbortController(), expiresAtMs };
    // Every I/O call of the item listens on this signal; hundreds at once are expected.
    setMaxListeners(0, lease.controller.signal);
    this.held.set(keyOf(ref), lease);
    return lease;
  }

  /**
   * Stop renewing an item. With `lease`, only if that lease is still the one held: a later claim of
   * the same item by this worker (after its own lease ran out) must not be dropped by the old one.
   */
  drop(ref: ItemRef, lease?: HeldLease): void {
    const key = keyOf(ref);
    if (!lease || this.held.get(key) === lease) this.held.delete(key);
  }

  private isHeld(lease: HeldLease): boolean {
    return this.held.get(keyOf(lease.ref)) === lease;
  }

  get size(): number {
    return this.held.size;
  }

  all(): HeldLease[] {
    return [...this.held.values()];
  }

  /** Throws LeaseLostError unless the lease is held and not about to run out. */
  assertValid(lease: HeldLease): void {
    if (lease.controller.signal.aborted) throw lease.controller.signal.reason ?? new LeaseLostError(lease.ref.itemId);
    if (this.now() > lease.expiresAtMs - this.safetyMarginMs) {
      this.lose(lease, 'expired locally');
      throw new LeaseLostError(lease.ref.itemId);
    }
  }

  private lose(lease: HeldLease, why: string): void {
    // A renewal that raced with complete/fail/release sees the item gone: that is not a loss.
    if (lease.controller.signal.aborted || !this.isHeld(lease)) return;
    this.log.warn({ runId: lease.ref.runId, itemId: lease.ref.itemId, why }, 'lease lost; aborting item');
    lease.controller.abort(new LeaseLostError(lease.ref.itemId));
    this.events.safeEmit('item:lease:lost', { ...lease.ref });
  }

  /** One heartbeat: renew every held lease, then extend the visibility of their messages. */
  async renewAll(): Promise<void> {
    const leases = this.all().filter((l) => !l.controller.signal.aborted);
    if (!leases.length) return;
    await Promise.all(
      leases.map(async (lease) => {
        const writtenAt = this.now();
        try {
          const r = await renewLease(this.items, lease.ref, this.opts.owner, this.opts.leaseMs);
          if (r === 'ok') lease.expiresAtMs = writtenAt + this.opts.leaseMs;
          else this.lose(lease, 'owned by another worker');
        } catch (err) {
          // DynamoDB unreachable: keep the item while the lease we last wrote is still valid.
          this.log.warn({ err, itemId: lease.ref.itemId }, 'lease renewal failed; will retry');
          if (this.now() > lease.expiresAtMs - this.safetyMarginMs)
            this.lose(lease, 'renewal failing and lease ran out');
        }
      }),
    );
    // only messages still held: one just completed is deleted, one just failed is hidden for its backoff
    const live = leases.filter((l) => !l.controller.signal.aborted && this.isHeld(l));
    if (!live.length) return;
    try {
      const failed = await this.queue.changeVisibilityMany(
        live.map((l) => l.receiptHandle),
        Math.ceil(this.opts.leaseMs / 1000),
      );
      if (failed.size) this.log.debug({ failed: failed.size }, 'visibility extension failed for some messages');
    } catch (err) {
      // Not fatal: the lease is the truth; a redelivered message finds the item held and waits.
      this.log.warn({ err }, 'visibility extension failed');
    }
  }
}
