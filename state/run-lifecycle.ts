/**
 * The run lifecycle: every state a run can be in, every transition between them, and the one
 * conditional write that makes each. Nothing else writes a run's `state`.
 *
 *   planning ──planComplete──▶ running ──finish (last open item terminal)──▶ done
 *     │   │                     │  ▲  ▲                                       │
 *     │   └──pause──▶ paused ◀──pause │  └──────────reopen (requeue)───────────┘
 *     │                 └──resume─────┘
 *     ├──planFailed──▶ failed ──replan──▶ planning
 *     └──cancel (from planning, running or paused)──▶ cancelled (final)
 *
 * - `planComplete`: the planner wrote and enqueued everything. A run paused while it was planned
 *   stays paused (only `planComplete` is set: `markPlanComplete`).
 * - `finish`: in the write path, never in a read: the worker whose terminal transition left no
 *   open item (or `convoy reconcile`, or the planner when the fleet finished first) calls
 *   `finishRunIfComplete` (engine), which checks the items and then makes this transition.
 * - `reopen`: `convoy requeue` put failed items of a finished run back to pending.
 * - `failLimit`: the run's failed items passed its --max-failed (shared/failure-tolerance.ts): in
 *   the write path, by the worker whose item failed (worker/failure-guard.ts, through
 *   `pauseIfTooManyFailed`), never by a read. It records why (`pauseReason`), which status,
 *   monitor and API show with what to do; resume, pause and cancel remove it.
 * Every transition is appended to the run's history (`runHistory`, with the tunes of ./run-tuning.ts).
 * - `planFailed`: the planner hit a permanent error (bad input found only while listing, access
 *   denied); `replan`: planning the same run again after fixing the cause.
 * A crashed `convoy plan` leaves the run in `planning`; planning it again resumes it.
 */
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { ConvoyError } from '../shared/errors.js';
import { describeMaxFailed } from '../shared/failure-tolerance.js';
import { isConditionFailure } from './conditions.js';
import { anyActiveItem } from './item-bulk.js';
import { countByStatusUpTo, indexedIds, rereadInStatus } from './status-index.js';
import type { ItemStatus, ItemStore } from './item-row.js';
import { getRun, type MetaStore, type RunState } from './runs.js';

export { RunState } from './runs.js';
import { metaKeys, statusKeysFor } from './schema.js';
import { failedItemsAllowed } from '../shared/failure-tolerance.js';
import { historyAppend, maxFailedOf, type PauseReason } from './run-tuning.js';
import { nowOf } from './store.js';

/** The transition table: the only ways a run's state changes. */
export const RUN_TRANSITIONS = {
  planComplete: { from: ['planning'], to: 'running' },
  pause: { from: ['planning', 'running'], to: 'paused' },
  failLimit: { from: ['planning', 'running'], to: 'paused' },
  resume: { from: ['paused'], to: 'running' },
  cancel: { from: ['planning', 'running', 'paused'], to: 'cancelled' },
  finish: { from: ['running'], to: 'done' },
  reopen: { from: ['done'], to: 'running' },
  planFailed: { from: ['planning'], to: 'failed' },
  replan: { from: ['failed'], to: 'planning' },
} as const satisfies Record<string, { from: readonly RunState[]; to: RunState }>;
export type RunTransition = keyof typeof RUN_TRANSITIONS;

/**
 * Make `transition` with one conditional write: the run must be in one of its `from` states (or,
 * narrower, in `onlyFrom`), and for `finish` its plan must be complete. Returns false when the
 * condition fails (the run is elsewhere: read it to say where).
 */
export async function applyRunTransition(
  s: MetaStore,
  runId: string,
  transition: RunTransition,
  opts: { onlyFrom?: RunState; pauseReason?: PauseReason } = {},
): Promise<boolean> {
  const { from, to } = RUN_TRANSITIONS[transition];
  const states: readonly RunState[] = opts.onlyFrom ? from.filter((f) => f === opts.onlyFrom) : from;
  if (!states.length) return false;
  const now = nowOf(s);
  const h = historyAppend({
    atMs: now,
    event: transition,
    ...(opts.pauseReason
      ? {
          detail: `${opts.pauseReason.failed} failed item(s), more than --max-failed ${describeMaxFailed(opts.pauseReason.maxFailed)} allows (${opts.pauseReason.allowed})`,
        }
      : {}),
  });
  const values: Record<string, unknown> = { ':to': to, ':now': now, ...h.values };
  states.forEach((f, i) => (values[`:f${i}`] = f));
  let set = `SET #st = :to, updatedAtMs = :now, ${h.expr}`;
  let condition = `#st IN (${states.map((_, i) => `:f${i}`).join(', ')})`;
  if (to === 'done' || to === 'cancelled' || to === 'failed') set += ', finishedAtMs = :now';
  if (transition === 'failLimit') {
    if (!opts.pauseReason) throw new Error('failLimit needs the pause reason');
    set += ', pauseReason = :reason';
    values[':reason'] = opts.pauseReason;
  }
  const removes: string[] = [];
  if (transition === 'reopen' || transition === 'replan') removes.push('finishedAtMs');
  if (transition === 'resume' || transition === 'pause' || transition === 'cancel') removes.push('pauseReason');
  if (transition === 'planComplete') set += ', planComplete = :t';
  if (transition === 'finish') {
    condition += ' AND planComplete = :t';
  }
  if (transition === 'planComplete' || transition === 'finish') values[':t'] = true;
  if (removes.length) set += ` REMOVE ${removes.join(', ')}`;
  return updateRunIf(s, runId, set, condition, values);
}

/**
 * The planner is done: planning -> running; a run paused while it was planned stays paused with
 * its plan marked complete. A run cancelled meanwhile, or in any other state, is an error naming it.
 */
export async function markPlanComplete(s: MetaStore, runId: string): Promise<void> {
  if (await applyRunTransition(s, runId, 'planComplete')) return;
  // Already running (a resumed plan of a run whose first plan completed the transition).
  if (
    await updateRunIf(s, runId, 'SET planComplete = :t, updatedAtMs = :now', '#st IN (:running, :paused)', {
      ':t': true,
      ':running': 'running',
      ':paused': 'paused',
      ':now': nowOf(s),
    })
  )
    return;
  const run = await getRun(s, runId);
  const cancelled = run?.state === 'cancelled';
  throw new ConvoyError(
    cancelled ? 'RUN_CANCELLED' : 'RUN_STATE',
    `run ${runId} is ${run ? run.state : 'gone'}: its plan cannot be completed${cancelled ? ' (it was cancelled while being planned; plan a new run)' : ''}`,
    { retryable: false },
  );
}

/** One conditional update of a run row (`#st` names its state); false when the condition fails. */
async function updateRunIf(
  s: MetaStore,
  runId: string,
  update: string,
  condition: string,
  values: Record<string, unknown>,
): Promise<boolean> {
  try {
    await s.ddb.send(
      new UpdateCommand({
        TableName: s.table,
        Key: metaKeys.run(runId),
        UpdateExpression: update,
        ConditionExpression: condition,
        ExpressionAttributeNames: { '#st': 'state' },
        ExpressionAttributeValues: values,
      }),
    );
    return true;
  } catch (err) {
    if (isConditionFailure(err)) return false;
    throw err;
  }
}

/**
 * running -> done when the plan is complete and no item is open (pending, leased, retrying):
 * called in the write path by whoever may have closed the last item (a worker after a terminal
 * transition, the planner after its last batch, `convoy reconcile`). Cheap when items are still
 * open (one index query per status shard, a few candidates each, re-read in one BatchGetItem);
 * only when no candidate is open now are the run's items read with consistent reads (the index
 * lags on AWS), then the conditional write.
 * Says whether this call finished the run, or why not: items are still open, or the run is not
 * running (paused, still planning, already finished by someone else, cancelled).
 */
export async function finishRunIfComplete(
  meta: MetaStore,
  items: ItemStore,
  runId: string,
): Promise<'finished' | 'open' | 'not-running'> {
  const run = await getRun(meta, runId);
  if (run?.state !== 'running' || !run.planComplete) return 'not-running';
  if (await openItemIndexed(items, runId)) return 'open';
  if (await anyActiveItem(items, runId)) return 'open';
  return (await applyRunTransition(meta, runId, 'finish')) ? 'finished' : 'not-running';
}

/** The statuses of an open item (not yet done or failed). */
const OPEN: readonly ItemStatus[] = ['leased', 'retrying', 'pending'];

/**
 * Whether an item the status index lists as open is open now: a few candidates per shard, re-read
 * with consistent reads (the index lags on AWS: it still lists items that finished a moment ago,
 * and trusting it left a run that was complete `running` with no one left to check it). False
 * means only that no listed candidate is open; finishRunIfComplete confirms with anyActiveItem.
 */
async function openItemIndexed(items: ItemStore, runId: string): Promise<boolean> {
  for (const status of OPEN) {
    const candidates = await Promise.all(
      statusKeysFor(runId, status).map(async (key) => {
        for await (const ids of indexedIds(items, key, { pageSize: CANDIDATES_PER_SHARD })) return ids;
        return [];
      }),
    );
    const ids = candidates.flat();
    if (ids.length && (await rereadInStatus(items, runId, ids, OPEN, { projection: 'itemId, #status' })).length)
      return true;
  }
  return false;
}

/** Enough that a few items finished during the index's lag do not hide the open ones behind them. */
const CANDIDATES_PER_SHARD = 5;

/**
 * running (or planning) -> paused when the run's failed items pass its --max-failed: called in
 * the write path by the worker whose item just failed for good (worker/failure-guard.ts), and by
 * `convoy tune` after lowering the limit. Counts failed items only up to the limit + 1 (the cost
 * is bounded by the limit), then makes the `failLimit` transition with its reason: one
 * conditional write, which a run already paused, finished or cancelled turns away.
 */
export async function pauseIfTooManyFailed(
  meta: MetaStore,
  items: ItemStore,
  runId: string,
): Promise<{ outcome: 'paused'; reason: PauseReason } | { outcome: 'within' | 'no-limit' | 'not-running' }> {
  const run = await getRun(meta, runId);
  if (!run || (run.state !== 'running' && run.state !== 'planning')) return { outcome: 'not-running' };
  const maxFailed = maxFailedOf(run);
  if (!maxFailed) return { outcome: 'no-limit' };
  const allowed = failedItemsAllowed(maxFailed, run.plannedItems);
  const failed = await countByStatusUpTo(items, runId, 'failed', allowed + 1);
  if (failed <= allowed) return { outcome: 'within' };
  const reason: PauseReason = { cause: 'max-failed', failed, allowed, maxFailed, atMs: nowOf(meta) };
  const paused = await applyRunTransition(meta, runId, 'failLimit', { pauseReason: reason });
  return paused ? { outcome: 'paused', reason } : { outcome: 'not-running' };
}
