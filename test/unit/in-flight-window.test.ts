/** shared/in-flight-window.ts: the bound a range item puts on copies started ahead of their completion. */
import { describe, expect, it } from 'vitest';
import { InFlightWindow } from '../../shared/in-flight-window.js';

/** A task that settles when told to. */
function task() {
  let resolve!: () => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Whether a promise has settled once the pending microtasks have run. */
async function isSettled(p: Promise<unknown>): Promise<boolean> {
  let settled = false;
  void p.then(
    () => (settled = true),
    () => (settled = true),
  );
  await new Promise((r) => setImmediate(r));
  return settled;
}

describe('InFlightWindow', () => {
  it('has room below its size and waits, when full, until one task settles', async () => {
    const window = new InFlightWindow(2);
    const a = task();
    const b = task();
    window.add(a.promise);
    expect(await isSettled(window.room())).toBe(true);
    window.add(b.promise);
    expect(window.count).toBe(2);
    const room = window.room();
    expect(await isSettled(room)).toBe(false);
    b.resolve();
    expect(await isSettled(room)).toBe(true);
    expect(window.count).toBe(1);
  });

  it('counts a rejected task as settled (its error is the caller’s)', async () => {
    const window = new InFlightWindow(1);
    const a = task();
    const caught = a.promise.catch(() => undefined);
    window.add(a.promise);
    const room = window.room();
    a.reject(new Error('copy failed'));
    await caught;
    expect(await isSettled(room)).toBe(true);
    expect(window.count).toBe(0);
  });

  it('wakes every waiter when a task settles, and drained() waits for all tasks', async () => {
    const window = new InFlightWindow(1);
    const a = task();
    window.add(a.promise);
    const first = window.room();
    const second = window.room();
    const drained = window.drained();
    expect(await isSettled(drained)).toBe(false);
    a.resolve();
    expect(await isSettled(first)).toBe(true);
    expect(await isSettled(second)).toBe(true);
    expect(await isSettled(drained)).toBe(true);
  });

  it('refuses a size below 1', () => {
    expect(() => new InFlightWindow(0)).toThrow(/at least 1/);
  });
});
