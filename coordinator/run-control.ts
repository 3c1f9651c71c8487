/**
 * Pausing, resuming and cancelling a run (`convoy pause|resume|cancel --run R`).
 *
 * Each is one conditional write of the run row's state (state/run-lifecycle.ts); workers
 * read the state with the run (cached for RUN_STATE_TTL_MS) and act on it:
 *  - paused: a worker that receives one of the run's messages deletes it without claiming the
 *    item, which stays pending: no attempt is spent and nothing else is written. Items already in
 *    flight finish. (Hiding the messages instead would cycle a long pause's backlog through every
 *    receive and, past the queue's maxReceiveCount, into the DLQ.)
 *  - resumed: the run is `running` again and its unfinished items are re-sent (reconcile:
 *    pending, retrying and due, or with an expired lease). Duplicates are harmless.
 *  - cancelled (final): the unfinished items are re-sent (those of a paused run have no message)
 *    and fail with RUN_CANCELLED as workers take them, so every item ends terminal. Items in
 *    flight finish. A cancelled run cannot be requeued or re-planned.
 *
 * `RUN_CONTROL` and `refusal` are pure: which states each action leaves from, and what to tell an
 * operator when the run is in another one.
 */
import type { ConvoyContext } from '../shared/context.js';
import { InputError } from '../shared/errors.js';
import { applyRunTransition, RUN_TRANSITIONS, type RunState } from '../state/run-lifecycle.js';
import { getRun } from '../state/runs.js';
import { reconcileRun } from './reconcile.js';

export type RunControlAction = 'pause' | 'resume' | 'cancel';

/** The operator's three actions, as transitions of the run lifecycle's table. */
export const RUN_CONTROL: Record<RunControlAction, { from: readonly RunState[]; to: RunState }> = {
  pause: RUN_TRANSITIONS.pause,
  resume: RUN_TRANSITIONS.resume,
  cancel: RUN_TRANSITIONS.cancel,
};

export const PAST: Record<RunControlAction, string> = { pause: 'paused', resume: 'resumed', cancel: 'cancelled' };

/** Why `action` cannot apply to a run in `state`, and what to do instead. */
export function refusal(runId: string, action: RunControlAction, state: RunState): string {
  if (state === RUN_CONTROL[action].to) return `run ${runId} is already ${state}`;
  if (state === 'done')
    return `run ${runId} is done: there is nothing left to ${action}${action === 'resume' ? '' : ' (requeue its failed items with `convoy requeue --run ' + runId + '`)'}`;
  if (state === 'cancelled') return `run ${runId} was cancelled, which is final: plan a new run to do its work`;
  if (action === 'resume') return `run ${runId} is ${state}, not paused: there is nothing to resume`;
  return `run ${runId} is ${state}: cannot ${action} it`;
}

export interface RunControlResult {
  runId: string;
  from: RunState;
  to: RunState;
  /** resume and cancel: messages re-sent for the run's unfinished items */
  resent?: number;
}

/**
 * Apply `action` to the run. The write is conditional on the state read just before; if the run
 * moved in between (a worker finished it, another operator acted), it is read again and retried
 * or refused with the state it is now in.
 */
export async function controlRun(
  ctx: ConvoyContext,
  runId: string,
  action: RunControlAction,
): Promise<RunControlResult> {
  const { from, to } = RUN_CONTROL[action];
  for (let attempt = 0; attempt < 3; attempt++) {
    const run = await getRun(ctx.meta, runId);
    if (!run) throw new InputError(`run "${runId}" not found (list runs with \`convoy status\`)`);
    if (!from.includes(run.state)) throw new InputError(refusal(runId, action, run.state));
    if (await applyRunTransition(ctx.meta, runId, action, { onlyFrom: run.state })) {
      ctx.log.info({ runId, from: run.state, to }, `run ${PAST[action]}`);
      if (action === 'pause') return { runId, from: run.state, to };
      const { resent } = await reconcileRun(ctx, runId);
      return { runId, from: run.state, to, resent };
    }
  }
  throw new InputError(
    `run ${runId} kept changing state while we tried to ${action} it; look at \`convoy status --run ${runId}\` and try again`,
  );
}
