/**
 * How a process that stops on SIGTERM/SIGINT listens for them. Normally once: a second signal then
 * ends the process (Node's default), the way out of a drain that hangs. In a process whose signals
 * can come twice, every time: a supervisor's child (worker/supervisor.ts forwards what the whole
 * group also got from a terminal or systemd) and a command started again by its parent with more
 * node flags (coordinator/cli/relaunch.ts, which does the same). Stopping again is then a no-op,
 * and a real second request is the parent's to act on.
 */

/** Set, to the parent's pid, in the environment of a command its parent started again (coordinator/cli/relaunch.ts). */
export const RELAUNCHED_ENV = 'CONVOY_RELAUNCHED';

let relaunchedHere = false;

/**
 * In a relaunched command, the parent's pid from the mark it left in the environment, taken out
 * of it (the command's own children, e.g. `plan --work`'s helper processes, are not relaunched
 * ones); undefined in any other process.
 */
export function takeRelaunchMark(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const raw = env[RELAUNCHED_ENV];
  if (raw === undefined) return undefined;
  delete env[RELAUNCHED_ENV];
  relaunchedHere = true;
  return Number(raw);
}

/** Whether this process was started again by the CLI's entry with more node flags. */
export function relaunched(): boolean {
  return relaunchedHere;
}

/**
 * Call `onSignal` on each of `signals`: every time when they can repeat (see above), else once.
 * Returns what removes the listeners.
 */
export function onStopSignals(
  signals: readonly NodeJS.Signals[],
  onSignal: (signal: NodeJS.Signals) => void,
  repeats: boolean,
): () => void {
  for (const s of signals) (repeats ? process.on : process.once).call(process, s, onSignal);
  return () => {
    for (const s of signals) process.off(s, onSignal);
  };
}
