/**
 * Reconcile: re-send items that may have no live message. SQS cannot be asked "is there a
 * message for item X", so reconcile re-sends items that are not finished and not held by a live
 * lease: pending and retrying items (whose message may be gone: the local stack's SQS is in
 * memory, and a send can fail after the row was written) and leased items whose lease has expired
 * (a crashed worker). A duplicate message is harmless (a claim on a done or held item does
 * nothing) but they must not multiply: each re-send is recorded on the item row with a
 * conditional write (state/item-sent.ts), and an item whose message went out less than `graceMs`
 * ago is left alone, so running reconcile twice sends one message per item, not two.
 *
 * Why not SQS deduplication: it exists only on FIFO queues (the work queue is a standard queue,
 * for throughput and per-message visibility), and its 5-minute window would also swallow the
 * re-send that is needed after the queue was really emptied.
 *
 * The one case the window must not apply: a queue holding no message at all (visible, in flight
 * or delayed) holds none for these items either, whatever was recorded; that is the state after
 * a local-stack restart, and there every unfinished item is re-sent.
 */
import type { ConvoyContext } from '../shared/context.js';
import type { ItemRow, ItemStatus } from '../state/item-row.js';
import { itemsByStatus } from '../state/status-index.js';
import { claimResend, lastSentAtMs, type SentItemRow } from '../state/item-sent.js';
import { finishRunIfComplete } from '../state/run-lifecycle.js';
import { redriveRunDlq } from './dlq-redrive.js';

/** The CLI's default --grace-ms: longer than a plan takes to send what it wrote, short enough for an operator. */
export const RECONCILE_GRACE_MS = 60_000;

export interface ReconcileResult {
  pending: number;
  retrying: number;
  expiredLeases: number;
  resent: number;
  /** items left alone because their message was (re)sent within the grace period */
  recentlySent: number;
  /** unfinished items whose only message sat in the DLQ, sent back (dlq-redrive.ts) */
  dlqRedriven?: number;
  /** stale DLQ messages of this run removed (done items, or items re-sent above) */
  dlqRemoved?: number;
  /** the run had no open item left and this reconcile finished it (running -> done) */
  finished?: boolean;
}

export interface ReconcileOptions {
  /**
   * Leave alone items sent, touched or due within this long, and leases expired for less.
   * @defaultValue 0 (re-send every unfinished item not held by a live lease: what resume needs)
   */
  graceMs?: number;
}

export async function reconcileRun(
  ctx: ConvoyContext,
  runId: string,
  opts: ReconcileOptions = {},
): Promise<ReconcileResult> {
  const now = ctx.now();
  const graceMs = opts.graceMs ?? 0;
  const depth = await ctx.queue.depth();
  const queueEmpty = depth.visible + depth.inFlight + depth.delayed === 0;
  const sentWindowMs = queueEmpty ? 0 : graceMs;
  const result: ReconcileResult = { pending: 0, retrying: 0, expiredLeases: 0, resent: 0, recentlySent: 0 };
  const sentIds = new Set<string>();

  const resend = async (status: ItemStatus, items: SentItemRow[], dueBeforeMs?: number): Promise<number> => {
    const stale = items.filter((i) => now - lastSentAtMs(i) >= sentWindowMs);
    const won: ItemRow[] = [];
    // one conditional write per item, a page's worth at a time (bounded by the page size)
    await Promise.all(
      stale.map(async (i) => {
        if ((await claimResend(ctx.items, i, status, now, now - sentWindowMs, { dueBeforeMs })) === 'ok') won.push(i);
      }),
    );
    await ctx.queue.sendItems(won.map((i) => ({ runId, itemId: i.itemId })));
    won.forEach((i) => sentIds.add(i.itemId));
    result.resent += won.length;
    result.recentlySent += items.length - won.length;
    return won.length;
  };

  for await (const page of itemsByStatus(ctx.items, runId, 'pending', { pageSize: 100 })) {
    result.pending += await resend('pending', page);
  }
  // Rows come from the status index re-read from the table (state/status-index.ts); the lease
  // expiry and the next attempt are checked again in the write, which sees the row as it is.
  for await (const page of itemsByStatus(ctx.items, runId, 'retrying', { pageSize: 100 })) {
    result.retrying += await resend(
      'retrying',
      page.filter((i) => (i.nextAttemptAtMs ?? 0) + graceMs <= now),
      now - graceMs + 1,
    );
  }
  for await (const page of itemsByStatus(ctx.items, runId, 'leased', { pageSize: 100 })) {
    result.expiredLeases += await resend(
      'leased',
      page.filter((i) => (i.leaseExpiresAtMs ?? 0) + graceMs < now),
      now - graceMs,
    );
  }
  // A DLQ copy is never a live message, whatever the grace window says: redrive those items.
  const dlq = await redriveRunDlq(ctx, runId, { alreadySent: sentIds });
  result.dlqRedriven = dlq.redriven;
  result.dlqRemoved = dlq.removed;
  // The write path's last step, for a run whose last item's worker died before it could check:
  // with nothing left open, the run is finished here (reads never do it).
  result.finished = (await finishRunIfComplete(ctx.meta, ctx.items, runId)) === 'finished';
  ctx.log.info({ runId, queueEmpty, ...result }, 'reconcile complete');
  return result;
}
