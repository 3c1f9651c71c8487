/**
 * How many messages the worker's receive loop asks for next: the intake rule, apart from the loop
 * (worker.ts) so it reads and tests on its own.
 *
 * Not "every free slot at once": a host's processes (and a fleet's hosts) long-poll the same
 * queue, and SQS hands every visible message, up to the number asked for, to whichever poll is
 * first. With `--concurrency 8`, one process of a host took 7 of the 10 range items a list item
 * had just added, its sibling 3 (bench:s3 (a): 3,500 objects against 1,500), and the sibling sat
 * idle while the first copied on. So:
 *  - slow start: ask for at most as many messages as there are items in flight (one when there
 *    are none), so pollers that start together ramp up together and split a burst between them;
 *  - transfers first: while the process's transfers run (transfer-limit.ts), it takes a next item
 *    only when the items it holds all feed them and the queue of waiting transfers is short; with
 *    work enough, the next item is left to a process whose transfers are idle. Items that run no
 *    transfers (tables, uploads) are held back by nothing but --concurrency.
 */
import type { TransfersState } from './transfer-limit.js';

export interface IntakeState {
  /** the worker's --concurrency: items in flight at most */
  concurrency: number;
  /** items received and not yet settled */
  inFlight: number;
  transfers: TransfersState;
}

/** Messages to ask for now; 0 = wait for an item to settle or the transfers to change. */
export function messagesToAsk(s: IntakeState): number {
  const free = s.concurrency - s.inFlight;
  if (free <= 0) return 0;
  if (s.transfers.busy && (s.transfers.backlogged || s.transfers.starting > 0)) return 0;
  return Math.min(free, Math.max(1, s.inFlight));
}
