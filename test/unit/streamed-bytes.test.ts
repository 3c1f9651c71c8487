/**
 * StreamedBytes (worker/jobs/s3-sync/streamed-bytes.ts): the bytes of bodies one process streams
 * at once. Copies here are promises the test ends by hand, so what runs when is exact.
 */
import { describe, expect, it } from 'vitest';
import { StreamedBytes } from '../../worker/jobs/s3-sync/streamed-bytes.js';

/** A copy of `bytes` through `gate` that runs until the test ends it; `started` says whether it has begun. */
function copy(gate: StreamedBytes, bytes: number, log: string[], name: string) {
  let end!: () => void;
  const state = { started: false };
  const done = gate.run(bytes, async () => {
    state.started = true;
    log.push(name);
    await new Promise<void>((r) => (end = r));
  });
  return { state, done, end: () => end() };
}

/** let every pending promise job run */
const settle = () => new Promise<void>((r) => setImmediate(r));

describe('StreamedBytes', () => {
  it('starts copies while their bytes fit, the next ones as room is made, in the order they asked', async () => {
    const gate = new StreamedBytes(10);
    const log: string[] = [];
    const a = copy(gate, 4, log, 'a');
    const b = copy(gate, 4, log, 'b');
    const c = copy(gate, 4, log, 'c'); // 12 > 10: waits
    const d = copy(gate, 1, log, 'd'); // would fit (9), but c asked first
    await settle();
    expect(log).toEqual(['a', 'b']);
    expect(gate.inFlight).toBe(8);
    a.end();
    await a.done;
    await settle();
    expect(log).toEqual(['a', 'b', 'c', 'd']);
    expect(gate.inFlight).toBe(9);
    for (const x of [b, c, d]) x.end();
    await Promise.all([b.done, c.done, d.done]);
    expect(gate.inFlight).toBe(0);
  });

  it('an object larger than the limit streams alone', async () => {
    const gate = new StreamedBytes(10);
    const log: string[] = [];
    const small = copy(gate, 2, log, 'small');
    const huge = copy(gate, 50, log, 'huge');
    await settle();
    expect(log).toEqual(['small']);
    small.end();
    await small.done;
    await settle();
    expect(log).toEqual(['small', 'huge']);
    expect(gate.inFlight).toBe(10);
    const after = copy(gate, 1, log, 'after');
    await settle();
    expect(after.state.started).toBe(false);
    huge.end();
    await huge.done;
    await settle();
    expect(after.state.started).toBe(true);
    after.end();
    await after.done;
  });

  it('a raised limit starts the waiting copies; a lowered one lets a waiting copy start once alone', async () => {
    const gate = new StreamedBytes(4);
    const log: string[] = [];
    const a = copy(gate, 4, log, 'a');
    const b = copy(gate, 4, log, 'b');
    await settle();
    expect(log).toEqual(['a']);
    gate.setLimit(8);
    await settle();
    expect(log).toEqual(['a', 'b']);
    gate.setLimit(2);
    const c = copy(gate, 2, log, 'c');
    a.end();
    await a.done;
    await settle();
    expect(c.state.started).toBe(false); // 4 still streaming, over the new limit
    b.end();
    await b.done;
    await settle();
    expect(c.state.started).toBe(true);
    c.end();
    await c.done;
  });

  it('a copy still waiting when its signal aborts leaves the queue; the ones behind it start if they fit', async () => {
    const gate = new StreamedBytes(10);
    const log: string[] = [];
    const a = copy(gate, 6, log, 'a');
    const stop = new AbortController();
    let reached = false;
    const waiting = gate.run(
      8,
      async () => {
        reached = true;
      },
      stop.signal,
    );
    const c = copy(gate, 4, log, 'c'); // fits beside a, but asked after the waiting 8
    await settle();
    expect(log).toEqual(['a']);
    stop.abort(new Error('lease lost'));
    await expect(waiting).rejects.toThrow('lease lost');
    await settle();
    expect(reached).toBe(false);
    expect(log).toEqual(['a', 'c']);
    expect(gate.inFlight).toBe(10);
    a.end();
    c.end();
    await Promise.all([a.done, c.done]);
    expect(gate.inFlight).toBe(0);
    await expect(gate.run(1, async () => 'late', stop.signal)).rejects.toThrow('lease lost');
  });

  it('a failed copy gives its room back', async () => {
    const gate = new StreamedBytes(4);
    await expect(gate.run(4, () => Promise.reject(new Error('GET failed')))).rejects.toThrow('GET failed');
    expect(gate.inFlight).toBe(0);
    expect(await gate.run(4, async () => 'ok')).toBe('ok');
  });
});
