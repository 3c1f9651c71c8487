/**
 * Typed, namespaced events that the monitor, metrics and tests subscribe to. `safeEmit` swallows
 * listener errors: a broken subscriber must never break the worker loop.
 */
import { EventEmitter } from 'node:events';
import type { ItemRef } from './work-queue.js';

export type { ItemRef };

export interface ConvoyEvents {
  'worker:started': { workerId: string };
  'run:finished': { runId: string };
  /** a worker saw a new tune of the run (its settings as it now applies them) */
  'run:tuned': { runId: string; tuneVersion: number; tuning: Record<string, unknown> };
  'run:paused:max-failed': { runId: string; failed: number; allowed: number };
  'worker:receive:empty': { workerId: string };
  'worker:shutdown:begin': { workerId: string; signal?: string };
  'worker:shutdown:complete': { workerId: string; released: number; errors: number };
  'item:claimed': ItemRef & { attempt: number };
  'item:claim:skipped': ItemRef & { reason: 'done' | 'held' | 'missing' | 'failed' | 'paused' | 'concurrency' };
  'item:completed': ItemRef & { durationMs: number; bytes: number; objects: number };
  'item:retry': ItemRef & { errorClass: string; delayMs: number; attempt: number };
  'item:failed': ItemRef & { errorClass: string; message: string };
  'item:released': ItemRef;
  'item:lease:lost': ItemRef;
  'item:children': ItemRef & { count: number };
  'plan:progress': { runId: string; items: number };
  'plan:complete': { runId: string; items: number };
}

export type ConvoyEventName = keyof ConvoyEvents;

export class ConvoyEmitter {
  private readonly emitter = new EventEmitter();

  constructor() {
    this.emitter.setMaxListeners(100);
  }

  on<K extends ConvoyEventName>(name: K, fn: (payload: ConvoyEvents[K]) => void): () => void {
    this.emitter.on(name, fn);
    return () => this.emitter.off(name, fn);
  }

  once<K extends ConvoyEventName>(name: K, fn: (payload: ConvoyEvents[K]) => void): void {
    this.emitter.once(name, fn);
  }

  safeEmit<K extends ConvoyEventName>(name: K, payload: ConvoyEvents[K]): void {
    try {
      this.emitter.emit(name, payload);
    } catch {
      // a subscriber's bug is not the worker's problem
    }
  }

  /** Resolve when `predicate` holds for an event of this name (tests wait on conditions, not sleeps). */
  waitFor<K extends ConvoyEventName>(
    name: K,
    predicate: (payload: ConvoyEvents[K]) => boolean = () => true,
    timeoutMs = 30_000,
  ): Promise<ConvoyEvents[K]> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${name}`));
      }, timeoutMs);
      const off = this.on(name, (p) => {
        if (predicate(p)) {
          clearTimeout(timer);
          off();
          resolve(p);
        }
      });
    });
  }
}
