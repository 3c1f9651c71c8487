/**
 * The worker's shared limit on object transfers (s3-sync's copies) across all its items, and what
 * the receive loop needs to know of it to take the next item at the right time (intake.ts).
 *
 * Each received item gets a handle (`enter`): until it runs its first transfer or ends, it is
 * "starting" (being claimed, listing its range). A range item starts a copy for each listed object,
 * up to its look-ahead (256), so one item alone queues more copies than the limit runs:
 * "backlogged" is two rounds of copies waiting behind the running ones, enough that the next item
 * is wanted only when the current ones near their ends (the next item's claim and listing take
 * tens of milliseconds, in which the waiting round keeps the transfers busy).
 */
import pLimit from 'p-limit';

/** One item's use of the shared transfers. */
export interface ItemTransfers {
  /** run a transfer when a slot is free */
  run<T>(fn: () => Promise<T>): Promise<T>;
  /** the item has ended (whether or not it ran a transfer) */
  leave(): void;
}

export interface TransfersState {
  /** a transfer is running */
  busy: boolean;
  /** two rounds of transfers or more wait behind the running ones */
  backlogged: boolean;
  /** items entered that have neither run a transfer nor ended */
  starting: number;
}

export class TransferLimit {
  readonly #limit: ReturnType<typeof pLimit>;
  readonly #backlog: number;
  #starting = 0;
  #changed: { promise: Promise<void>; resolve: () => void } | undefined;
  /** after each transfer: wake a waiting receive loop once the backlog is gone or nothing runs */
  readonly #settled = () => {
    if (this.#changed && (!this.backlogged || this.#limit.activeCount === 0)) this.#notify();
  };

  constructor(size: number) {
    this.#limit = pLimit(size);
    this.#backlog = 2 * size;
  }

  /** A handle for one received item; `leave` it when the item ends. */
  enter(): ItemTransfers {
    this.#starting++;
    let starting = true;
    const started = () => {
      if (!starting) return;
      starting = false;
      this.#starting--;
      this.#notify();
    };
    return {
      run: (fn) => {
        started();
        const task = this.#limit(fn);
        task.then(this.#settled, this.#settled);
        return task;
      },
      leave: started,
    };
  }

  get backlogged(): boolean {
    return this.#limit.pendingCount >= this.#backlog;
  }

  get state(): TransfersState {
    return { busy: this.#limit.activeCount > 0, backlogged: this.backlogged, starting: this.#starting };
  }

  /** Resolves at the next change that may let the receive loop take an item. */
  changed(): Promise<void> {
    if (!this.#changed) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      this.#changed = { promise, resolve };
    }
    return this.#changed.promise;
  }

  #notify(): void {
    const changed = this.#changed;
    this.#changed = undefined;
    changed?.resolve();
  }
}
