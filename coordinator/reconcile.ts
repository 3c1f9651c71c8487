/**
 * Reconcile: re-send items that may have no live message. SQS cannot be asked "is there a
 * message for item X", so reconcile re-sends every item that is not finished and not held by a
 * live lease: pending and retrying items (whose message may be gone: the local stack's SQS is in
 * memory, and a send can fail after the row was written) and leased items whose lease has expired
 * (a crashed worker). Duplicate messages are harmless: a claim on a done or held item does nothing.
 */
import type { ConvoyContext } from '../shared/context.js';
import { itemsByStatus, type ItemRow } from '../state/items.js';

export interface ReconcileResult {
  pending: number;
  retrying: number;
  expiredLeases: number;
  resent: number;
}

export async function reconcileRun(ctx: ConvoyContext, runId: string, opts: { graceMs?: number } = {}): Promise<ReconcileResult> {
  const now = ctx.now();
  const graceMs = opts.graceMs ?? 0;
  const result: ReconcileResult = { pending: 0, retrying: 0, expiredLeases: 0, resent: 0 };
  const resend = async (items: ItemRow[]) => {
    await ctx.queue.sendItems(items.map((i) => ({ runId, itemId: i.itemId })));
    result.resent += items.length;
  };
  for await (const page of itemsByStatus(ctx.items, runId, 'pending')) {
    const stale = page.filter((i) => now - i.updatedAtMs >= graceMs);
    result.pending += stale.length;
    await resend(stale);
  }
  for await (const page of itemsByStatus(ctx.items, runId, 'retrying')) {
    const due = page.filter((i) => (i.nextAttemptAtMs ?? 0) + graceMs <= now);
    result.retrying += due.length;
    await resend(due);
  }
  for await (const page of itemsByStatus(ctx.items, runId, 'leased')) {
    const expired = page.filter((i) => (i.leaseExpiresAtMs ?? 0) + graceMs < now);
    result.expiredLeases += expired.length;
    await resend(expired);
  }
  ctx.log.info({ runId, ...result }, 'reconcile complete');
  return result;
}
