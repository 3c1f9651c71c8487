/**
 * Requeue: put failed items back (failed -> pending, fresh attempt budget) and send them again.
 * Their old DLQ messages are removed from the DLQ (the fresh message replaces them); DLQ messages
 * of other runs, or not matching the filter, are left where they are.
 */
import type { ConvoyContext } from '../shared/context.js';
import { InputError } from '../shared/errors.js';
import { itemsByStatus, requeueItem } from '../state/items.js';
import { getRun, transitionRun } from '../state/runs.js';

export interface RequeueFilter {
  runId: string;
  errorClass?: string;
  itemId?: string;
}

export interface RequeueResult {
  requeued: number;
  dlqMessagesRemoved: number;
}

export async function requeueFailed(ctx: ConvoyContext, filter: RequeueFilter): Promise<RequeueResult> {
  const run = await getRun(ctx.meta, filter.runId);
  if (!run) throw new InputError(`run "${filter.runId}" not found`);
  if (run.state === 'cancelled') throw new InputError(`run ${filter.runId} was cancelled, which is final: its items cannot be requeued; plan a new run`);
  const matches = (errorClass: string | undefined, itemId: string) =>
    (!filter.errorClass || errorClass === filter.errorClass) && (!filter.itemId || itemId === filter.itemId);
  const requeuedIds = new Set<string>();
  for await (const page of itemsByStatus(ctx.items, filter.runId, 'failed')) {
    const chosen = page.filter((i) => matches(i.lastError?.errorClass, i.itemId));
    const ok: string[] = [];
    for (const item of chosen) {
      if ((await requeueItem(ctx.items, { runId: filter.runId, itemId: item.itemId })) === 'ok') ok.push(item.itemId);
    }
    await ctx.queue.sendItems(ok.map((itemId) => ({ runId: filter.runId, itemId })));
    ok.forEach((id) => requeuedIds.add(id));
  }
  if (requeuedIds.size) await transitionRun(ctx.meta, filter.runId, ['done'], 'running');
  const dlqMessagesRemoved = await removeFromDlq(ctx, filter.runId, requeuedIds);
  return { requeued: requeuedIds.size, dlqMessagesRemoved };
}

/**
 * Drain the DLQ once: messages for requeued items are deleted; the rest are made visible again.
 * SQS has no "receive by attribute", so this reads what is there (bounded by rounds).
 */
async function removeFromDlq(ctx: ConvoyContext, runId: string, itemIds: Set<string>): Promise<number> {
  if (!itemIds.size) return 0;
  let removed = 0;
  const keep: string[] = [];
  for (let round = 0; round < 1000; round++) {
    const msgs = await ctx.queue.receive({ max: 10, waitSeconds: 0, visibilitySeconds: 30, fromDlq: true });
    if (!msgs.length) break;
    for (const m of msgs) {
      if (m.ref && m.ref.runId === runId && itemIds.has(m.ref.itemId)) {
        await ctx.queue.delete(m.receiptHandle, true);
        removed++;
      } else keep.push(m.receiptHandle);
    }
  }
  // Give the others back at once: left hidden for 30 s, a second requeue (another --item or
  // --class) right after this one would not see them and would leave its DLQ messages behind.
  await Promise.all(keep.map((h) => ctx.queue.changeVisibility(h, 0, true).catch(() => undefined)));
  return removed;
}
