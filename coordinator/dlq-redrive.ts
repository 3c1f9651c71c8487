/**
 * The DLQ holds two kinds of messages: those of items that really failed (status `failed`; a
 * requeue replaces them with fresh messages), and stale ones whose items are still unfinished
 * (SQS's redrive counts every receive, including deliveries nobody acted on) or already done.
 * The item row is the truth, so one sweep decides per message by reading its item:
 *   requeued by the caller, done, missing -> delete (nothing to do, or a fresh message was sent)
 *   pending, retrying, leased             -> redrive: a fresh message to the work queue, unless
 *                                            the caller already sent one, then delete the copy
 *   failed, other runs, malformed         -> keep
 * Used by `requeue` and `reconcile`, so either one recovers a run whose pending items were
 * pushed into the DLQ and leaves no stale copies behind.
 */
import type { ConvoyContext } from '../shared/context.js';
import { getItem } from '../state/items.js';

export interface DlqSweepResult {
  /** DLQ messages removed (requeued, done or missing items, or already re-sent) */
  removed: number;
  /** unfinished items sent back to the work queue from the DLQ */
  redriven: number;
}

export async function redriveRunDlq(
  ctx: ConvoyContext,
  runId: string,
  opts: { requeued?: ReadonlySet<string>; alreadySent?: ReadonlySet<string> } = {},
): Promise<DlqSweepResult> {
  const redrivenIds = new Set<string>();
  const r = await ctx.queue.sweepDlq(async (msg) => {
    if (!msg.ref || msg.ref.runId !== runId) return 'keep';
    const itemId = msg.ref.itemId;
    if (opts.requeued?.has(itemId)) return 'delete';
    const item = await getItem(ctx.items, runId, itemId);
    if (!item || item.status === 'done') return 'delete';
    if (item.status === 'failed') return 'keep';
    // Two DLQ copies of one item need one fresh message.
    if (opts.alreadySent?.has(itemId) || redrivenIds.has(itemId)) return 'delete';
    redrivenIds.add(itemId);
    return 'redrive';
  });
  return { removed: r.deleted, redriven: r.redriven };
}
