/**
 * The aws-local backend's servers are separate processes (java, ceph). A test file's process or
 * the `local up` daemon that dies without closing them must not leave them running, listening
 * and holding memory: each child is killed when this process exits, whatever the reason
 * ('exit' runs for process.exit and a normal end; SIGTERM/SIGINT are turned into an exit by the
 * daemon, and vitest ends its forks with process.exit).
 */
import type { ChildProcess } from 'node:child_process';

const children = new Set<ChildProcess>();
let hooked = false;

/** Kill `child` (SIGKILL) if this process exits first; the returned function forgets it. */
export function killOnExit(child: ChildProcess): () => void {
  if (!hooked) {
    hooked = true;
    process.on('exit', () => {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    });
  }
  children.add(child);
  child.once('exit', () => children.delete(child));
  return () => children.delete(child);
}
