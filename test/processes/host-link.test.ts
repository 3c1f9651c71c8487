/**
 * A worker child whose supervisor died while the child was still starting: the IPC channel closed
 * before the child linked to it, so its one 'disconnect' event was already gone. Seen on this
 * project's machine: two `hostg-p2` children of auto-grow test hosts ran on for 1.5 hours after
 * their supervisors were killed right after starting them. The link must stop such a worker.
 */
import { fork } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/** built by the suite's tsc, like every child the tests start */
const CHILD = path.resolve('dist/test/processes/late-link-child.js');

describe('a worker child linking after its supervisor is gone', () => {
  it('stops its worker (supervisor gone) instead of working on unsupervised', async () => {
    const child = fork(CHILD, [], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    await new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve());
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`the child exited (${code}) before it was ready`)));
    });
    child.disconnect(); // the supervisor goes before the child links
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(0);
    expect(JSON.parse(out.trim())).toEqual({ stopped: ['supervisor gone'] });
  });
});
