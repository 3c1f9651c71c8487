/**
 * Fork a helper process (an emulator, the UCAN peers, the local-stack daemon) with its output in
 * a log file, and wait for its first IPC message: `{ ready: true, ... }`, or `{ ready: false,
 * error }`. A process that exits first counts as not ready. Used by the fleet harness and the
 * benchmarks.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';

export interface ReadyReply {
  ready: boolean;
  error?: string;
}

export async function forkReady<T extends ReadyReply>(
  file: string,
  args: string[],
  opts: { logFile: string; execArgv?: string[]; what: string },
): Promise<{ child: ChildProcess; reply: T }> {
  const log = openSync(opts.logFile, 'a');
  const child = fork(file, args, { stdio: ['ignore', log, log, 'ipc'], execArgv: opts.execArgv ?? [] });
  closeSync(log);
  const reply = await new Promise<T>((resolve) => {
    child.once('message', (m) => resolve(m as T));
    child.once('exit', (code) => resolve({ ready: false, error: `exited with ${code}` } as T));
  });
  if (!reply.ready) throw new Error(`${opts.what} did not start: ${reply.error} (log: ${opts.logFile})`);
  return { child, reply };
}
