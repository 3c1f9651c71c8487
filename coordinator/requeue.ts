/**
 * Requeue: put failed items back (failed -> pending, fresh attempt budget) and send them again.
 * Their old DLQ messages are removed from the DLQ (the fresh message replaces them); DLQ messages
 * of other runs, or not matching the filter, are left where they are.
 */
import type { ConvoyContext } from '../shared/context.js';
import { isErrorClass, nearestErrorClass } from '../shared/error-classes.js';
import { InputError } from '../shared/errors.js';
import { getItem, requeueItem } from '../state/items.js';
import { itemsByStatus } from '../state/status-index.js';
import { applyRunTransition } from '../state/run-lifecycle.js';
import { getRun } from '../state/runs.js';
import { redriveRunDlq } from './dlq-redrive.js';

export interface RequeueFilter {
  runId: string;
  errorClass?: string;
  itemId?: string;
}

export interface RequeueResult {
  requeued: number;
  dlqMessagesRemoved: number;
  /** unfinished (pending) items whose messages SQS had pushed into the DLQ, sent back */
  dlqRedriven: number;
}

export async function requeueFailed(ctx: ConvoyContext, filter: RequeueFilter): Promise<RequeueResult> {
  const run = await getRun(ctx.meta, filter.runId);
  if (!run) throw new InputError(`run "${filter.runId}" not found`);
  if (run.state === 'cancelled')
    throw new InputError(
      `run ${filter.runId} was cancelled, which is final: its items cannot be requeued; plan a new run`,
    );
  const matches = (errorClass: string | undefined, itemId: string) =>
    (!filter.errorClass || errorClass === filter.errorClass) && (!filter.itemId || itemId === filter.itemId);
  const requeuedIds = new Set<string>();
  // the failed items' classes, read on the same pass, to name them when the filter matches none
  const classes = new Map<string, number>();
  let matched = 0;
  for await (const page of itemsByStatus(ctx.items, filter.runId, 'failed')) {
    for (const i of page)
      classes.set(i.lastError?.errorClass ?? 'UNKNOWN', (classes.get(i.lastError?.errorClass ?? 'UNKNOWN') ?? 0) + 1);
    const chosen = page.filter((i) => matches(i.lastError?.errorClass, i.itemId));
    matched += chosen.length;
    const ok: string[] = [];
    for (const item of chosen) {
      if ((await requeueItem(ctx.items, { runId: filter.runId, itemId: item.itemId })) === 'ok') ok.push(item.itemId);
    }
    await ctx.queue.sendItems(ok.map((itemId) => ({ runId: filter.runId, itemId })));
    ok.forEach((id) => requeuedIds.add(id));
  }
  // A filter that matches nothing is a typo far more often than a no-op: say so (nothing was written).
  if (!matched && (filter.errorClass || filter.itemId)) throw await noMatch(ctx, filter, classes);
  if (requeuedIds.size) await applyRunTransition(ctx.meta, filter.runId, 'reopen');
  // Always sweep (not only after a requeue): pending items can sit in the DLQ too, when SQS's
  // redrive counted deliveries nobody acted on; they go back to the queue, stale copies go away.
  const sweep = await redriveRunDlq(ctx, filter.runId, { requeued: requeuedIds });
  return {
    requeued: requeuedIds.size,
    dlqMessagesRemoved: sweep.removed + sweep.redriven,
    dlqRedriven: sweep.redriven,
  };
}

/** The refusal for a filter that matched no failed item: what is there instead, so the fix is obvious. */
async function noMatch(ctx: ConvoyContext, filter: RequeueFilter, classes: Map<string, number>): Promise<InputError> {
  const known = [...classes].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([c, n]) => `${c} (${n})`);
  const knownText = known.length
    ? `the run's failed items have class ${known.join(', ')}`
    : 'the run has no failed items';
  if (filter.itemId) {
    const item = await getItem(ctx.items, filter.runId, filter.itemId);
    const what = !item
      ? `"${filter.itemId}" is not an item of run ${filter.runId}`
      : item.status !== 'failed'
        ? `item "${filter.itemId}" of run ${filter.runId} is ${item.status}, not failed`
        : `item "${filter.itemId}" failed with class ${item.lastError?.errorClass ?? 'UNKNOWN'}, not ${filter.errorClass}`;
    return new InputError(
      `nothing to requeue: ${what}; ${knownText} (list them with \`convoy monitor --run ${filter.runId} --failed\`)`,
    );
  }
  const errorClass = filter.errorClass ?? '';
  if (!isErrorClass(errorClass)) {
    // not in shared/error-classes.ts: a typo (rows written by an older convoy may still hold a
    // retired class, which is why a class is only called unknown when no failed item has it)
    const nearest = nearestErrorClass(errorClass);
    return new InputError(
      `nothing to requeue: "${errorClass}" is not an error class convoy records${nearest ? ` (did you mean ${nearest}?)` : ''}; ${knownText}`,
    );
  }
  return new InputError(
    `nothing to requeue: no failed item of run ${filter.runId} has error class "${errorClass}"; ${knownText}`,
  );
}
