/**
 * The heartbeat for held items (BullMQ's lock manager, adapted): every `renewEveryMs` it renews
 * the DynamoDB lease of every held item and extends its SQS message's visibility in batches.
 * A lease that cannot be renewed because another worker owns it, or that ran out locally while
 * DynamoDB was unreachable, aborts the item's AbortController: the handler's I/O stops and its
 * result is thrown away (the new owner redoes the item; effects are idempotent).
 *
 * A message arrives hidden only briefly (the worker's receive visibility, a few seconds). Its
 * first extension to a full lease is made here too (`received`), a third of the way into that
 * visibility, in one batch with every other message received by then and not settled;
 * a message whose item ends sooner (deleted, handed back, hidden for a retry's backoff) needs
 * none. Extending every receive at once cost one ChangeMessageVisibilityBatch per receive (0.87
 * per s3-sync item in bench:s3 case e; one per item for short items).
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
  /** until when the message is hidden at least (the receive's visibility, then each extension's) */
  hiddenUntilMs: number;
}

export interface LeaseKeeperOptions {
  owner: string;
  leaseMs: number;
  /** @defaultValue leaseMs / 3 */
  renewEveryMs?: number;
  /** a lease is treated as lost this long before it runs out (clock skew between hosts) @defaultValue 2000 */
  safetyMarginMs?: number;
  /**
   * the receive's visibility (ms): a received message gets its first extension to a full lease a
   * third of the way in, leaving two thirds for a slow event loop and the request @defaultValue 10000
   */
  receiveVisibilityMs?: number;
}

const keyOf = (ref: ItemRef) => `${ref.runId}\u0000${ref.itemId}`;

export class LeaseKeeper {
  private readonly held = new Map<string, HeldLease>();
  private timer: NodeJS.Timeout | undefined;
  private renewing: Promise<void> | undefined;
  private readonly renewEveryMs: number;
  private readonly safetyMarginMs: number;
  /** received messages still hidden only by the receive (receipt handle -> hidden until) */
  private readonly fresh = new Map<string, number>();
  private freshTimer: NodeJS.Timeout | undefined;
  private extending: Promise<void> | undefined;

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
    clearTimeout(this.freshTimer);
    this.freshTimer = undefined;
    this.fresh.clear();
    await Promise.all([this.renewing, this.extending]);
  }

  /**
   * Messages just received, hidden until `hiddenUntilMs` by the receive: each gets its first
   * extension to a full lease shortly before then, unless `settled` (or dropped) first.
   */
  received(receiptHandles: string[], hiddenUntilMs: number): void {
    for (const h of receiptHandles) this.fresh.set(h, hiddenUntilMs);
    if (this.freshTimer || !receiptHandles.length) return;
    const inMs = Math.max(0, hiddenUntilMs - ((this.opts.receiveVisibilityMs ?? 10_000) * 2) / 3 - Date.now());
    this.freshTimer = setTimeout(() => {
      this.freshTimer = undefined;
      const p = this.extendFresh();
      this.extending = p.finally(() => {
        if (this.extending === p) this.extending = undefined;
      });
    }, inMs);
    this.freshTimer.unref();
  }

  /** A received message's fate is sealed (deleted, handed back, hidden for a backoff): leave it be. */
  settled(receiptHandle: string): void {
    this.fresh.delete(receiptHandle);
  }

  hold(ref: ItemRef, receiptHandle: string, expiresAtMs: number, hiddenUntilMs: number): HeldLease {
    const lease: HeldLease = { ref, receiptHandle, controller: new AbortController(), expiresAtMs, hiddenUntilMs };
    // Every I/O call of the item listens on this signal; hundreds at once are expected.
    setMaxListeners(0, lease.controller.signal);
    this.held.set(keyOf(ref), lease);
    return lease;
  }

  /**
   * The first extension of every message received and not settled by now (claims still in
   * progress included), in one batch; then a timer for any received since.
   */
  private async extendFresh(): Promise<void> {
    const handles = [...this.fresh.keys()];
    this.fresh.clear();
    if (!handles.length) return;
    const byHandle = new Map(this.all().map((l) => [l.receiptHandle, l]));
    await this.extend(handles, (h) => byHandle.get(h));
  }

  /**
   * Hide messages for a full lease again, in batches of 10; the held leases among them (`leaseOf`)
   * learn how long. Failures are logged, never thrown: an early redelivery at worst, which the
   * claim turns away (the lease is the truth).
   */
  private async extend(handles: string[], leaseOf: (handle: string) => HeldLease | undefined): Promise<void> {
    const sentAtMs = Date.now(); // SQS time, not the injectable clock of leases
    const seconds = Math.ceil(this.opts.leaseMs / 1000);
    try {
      const failed = await this.queue.changeVisibilityMany(handles, seconds);
      for (const h of handles) {
        const lease = leaseOf(h);
        if (lease && !failed.has(h)) lease.hiddenUntilMs = sentAtMs + seconds * 1000;
      }
      if (failed.size) this.log.debug({ failed: failed.size }, 'visibility extension failed for some messages');
    } catch (err) {
      this.log.warn({ err }, 'visibility extension failed');
    }
  }

  /**
   * Stop renewing an item. With `lease`, only if that lease is still the one held: a later claim of
   * the same item by this worker (after its own lease ran out) must not be dropped by the old one.
   */
  drop(ref: ItemRef, lease?: HeldLease): void {
    const key = keyOf(ref);
    const held = this.held.get(key);
    if (held && (!lease || held === lease)) {
      this.held.delete(key);
      // from here a transition decides the message (deleted, or hidden for a backoff): an
      // extension landing after it would hide a retry for a whole lease
      this.fresh.delete(held.receiptHandle);
    }
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
    const byHandle = new Map(live.map((l) => [l.receiptHandle, l]));
    await this.extend([...byHandle.keys()], (h) => byHandle.get(h));
  }
}
