/**
 * worker/intake.ts and worker/transfer-limit.ts: how many items a worker's receive loop asks for.
 * A host's processes share one queue; a process that asked for every free slot took most of a
 * burst of range items while its sibling idled.
 */
import { describe, expect, it } from 'vitest';
import { messagesToAsk } from '../../worker/intake.js';
import { TransferLimit } from '../../worker/transfer-limit.js';

const idle = { busy: false, backlogged: false, starting: 0 };

describe('messagesToAsk', () => {
  it('ramps up from one message: at most as many as the items in flight, never past --concurrency', () => {
    expect(messagesToAsk({ concurrency: 8, inFlight: 0, transfers: idle })).toBe(1);
    expect(messagesToAsk({ concurrency: 8, inFlight: 1, transfers: idle })).toBe(1);
    expect(messagesToAsk({ concurrency: 8, inFlight: 2, transfers: idle })).toBe(2);
    expect(messagesToAsk({ concurrency: 8, inFlight: 5, transfers: idle })).toBe(3);
    expect(messagesToAsk({ concurrency: 8, inFlight: 8, transfers: idle })).toBe(0);
  });

  it('while transfers run, takes nothing while they are backlogged or an item is still starting', () => {
    const busy = { busy: true, backlogged: false, starting: 0 };
    expect(messagesToAsk({ concurrency: 8, inFlight: 2, transfers: busy })).toBe(2);
    expect(messagesToAsk({ concurrency: 8, inFlight: 2, transfers: { ...busy, backlogged: true } })).toBe(0);
    expect(messagesToAsk({ concurrency: 8, inFlight: 2, transfers: { ...busy, starting: 1 } })).toBe(0);
    // with no transfer running, an item that runs none (a table segment, a list item) holds nothing back
    expect(messagesToAsk({ concurrency: 8, inFlight: 2, transfers: { ...idle, starting: 2 } })).toBe(2);
  });
});

/** A transfer that ends when told to. */
function transfer() {
  let end!: () => void;
  const done = new Promise<void>((r) => (end = r));
  return { fn: () => done, end };
}

const flush = () => new Promise((r) => setImmediate(r));

describe('TransferLimit', () => {
  it('counts an item as starting until its first transfer or its end', () => {
    const limit = new TransferLimit(2);
    const a = limit.enter();
    const b = limit.enter();
    expect(limit.state.starting).toBe(2);
    void a.run(async () => undefined);
    expect(limit.state.starting).toBe(1);
    b.leave();
    b.leave();
    expect(limit.state.starting).toBe(0);
  });

  it('is backlogged with two rounds waiting, and wakes a waiter once that drains', async () => {
    const limit = new TransferLimit(2);
    const item = limit.enter();
    const transfers = Array.from({ length: 7 }, transfer);
    const runs = transfers.map((t) => item.run(t.fn));
    await flush();
    expect(limit.state).toEqual({ busy: true, backlogged: true, starting: 0 });
    let woken = false;
    void limit.changed().then(() => (woken = true));
    transfers[0]!.end();
    await runs[0];
    await flush();
    // 2 running, 4 waiting: still backlogged (two rounds of 2)
    expect(woken).toBe(false);
    transfers[1]!.end();
    await runs[1];
    await flush();
    expect(limit.state.backlogged).toBe(false);
    expect(woken).toBe(true);
    for (const t of transfers) t.end();
    await Promise.all(runs);
    await flush();
    expect(limit.state.busy).toBe(false);
  });
});
