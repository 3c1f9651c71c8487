/**
 * `sleep(ms, signal)`: wait `ms`, or less if `signal` aborts; never rejects. Loops that poll
 * (the worker's receive loop, the monitor's refresh, the fleet harness) sleep on one long-lived
 * signal many times: node:timers/promises removes its abort listener when the timer fires, so
 * nothing accumulates on the signal.
 */
import { setTimeout as delay } from 'node:timers/promises';

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return delay(ms, undefined, signal ? { signal } : undefined).catch(() => undefined);
}

/** Wait `ms`, or throw the signal's reason (a lost lease, a stopping worker) if it aborts first. */
export async function sleepOrThrow(ms: number, signal?: AbortSignal): Promise<void> {
  await sleep(ms, signal);
  if (signal?.aborted) throw signal.reason;
}
