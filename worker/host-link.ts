/**
 * The link between a host's supervisor (`convoy worker --processes N`, ./supervisor.ts) and each
 * of its worker processes: what a child is told (one environment variable holding JSON, read once
 * at start-up) and the IPC messages they exchange. This module is the child's side (linkChild).
 *
 *   supervisor -> child   { type: 'convoy:metrics?', id }         a /metrics scrape of the host
 *                         { type: 'convoy:end-receive' }           every child has released its items
 *                         { type: 'convoy:cpu?' }                  how much CPU have you used?
 *                         { type: 'convoy:shares', ... }           the host's counts, divided again
 *                                                                  (`auto` started another process)
 *   child -> supervisor   { type: 'convoy:metrics', id, metrics } this process's registry as JSON
 *                         { type: 'convoy:cpu', micros }          process.cpuUsage(), user + system
 *                         { type: 'convoy:state', state }          running / draining / stopped
 *                         { type: 'convoy:released' }              draining: my items are done or
 *                                                                  released; my long poll is open
 *
 * Signals are not messages: the supervisor forwards SIGTERM/SIGINT to its children, which shut
 * down the way a lone worker does. A child whose supervisor dies (kill -9, OOM) sees its IPC
 * channel close ('disconnect') and shuts down the same way, instead of running on unsupervised.
 *
 * The release barrier: a long poll aborted by its client stays open on the server and takes the
 * next messages to become visible, hiding them for the receive visibility (10 s). A draining
 * child therefore keeps its poll open until every child of the host has released its items
 * ('convoy:released' from each, then 'convoy:end-receive' to all); a released item that a
 * sibling's open poll takes is handed straight back (worker.ts).
 */
import * as z from 'zod';
import type { ConvoyEmitter } from '../shared/events.js';
import { InputError } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import type { ProcessGauge } from './job-kind.js';

/** The variable that makes a `convoy worker` process one of a supervisor's children. */
export const CHILD_ENV = 'CONVOY_WORKER_CHILD';

export const childSettingsSchema = z
  .object({
    /** 1..processes */
    slot: z.number().int().min(1),
    processes: z.number().int().min(1),
    supervisorPid: z.number().int().min(1),
    workerId: z.string().min(1),
    /** this child's share of the host's totals (absent: the worker's default) */
    concurrency: z.number().int().min(1).optional(),
    transfers: z.number().int().min(1).optional(),
    threads: z.number().int().min(1),
    /** whether the supervisor serves /metrics (the child then keeps a registry for it) */
    metrics: z.boolean(),
  })
  .strict();

export type ChildSettings = z.infer<typeof childSettingsSchema>;

export type ChildState = 'running' | 'draining' | 'stopped';

/** A child's share of the host's counts, and how many processes share them now. */
export interface Shares {
  processes: number;
  concurrency: number;
  transfers: number;
}

export type ToChild =
  | { type: 'convoy:metrics?'; id: number }
  | { type: 'convoy:end-receive' }
  | { type: 'convoy:cpu?' }
  | ({ type: 'convoy:shares' } & Shares);
export type FromChild =
  | { type: 'convoy:state'; state: ChildState }
  | { type: 'convoy:cpu'; micros: number }
  | { type: 'convoy:released' }
  | { type: 'convoy:metrics'; id: number; metrics: unknown[] };

/** This process's settings when a supervisor started it; undefined for a process started by hand. */
export function childSettings(env: NodeJS.ProcessEnv = process.env): ChildSettings | undefined {
  const raw = env[CHILD_ENV];
  if (raw === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    parsed = undefined;
  }
  const settings = childSettingsSchema.safeParse(parsed);
  if (!settings.success || !process.send)
    throw new InputError(
      `${CHILD_ENV} is set by \`convoy worker --processes N\` for the processes it starts, not by hand: unset it`,
    );
  return settings.data;
}

export interface ChildLink {
  /** stop answering the supervisor and let the IPC channel go (the process can then exit) */
  close(): void;
}

function send(msg: FromChild): void {
  if (process.connected) process.send?.(msg, undefined, undefined, () => undefined);
}

/**
 * The host's release barrier, as one child sees it: `gate` is what the child's worker waits for at
 * shutdown before it ends its long poll (the worker's `receiveGate`): it reports this child's
 * items released and waits (at most `maxWaitMs`) until the supervisor says every child has
 * released (`convoy:end-receive`) or is gone; `end` is called by the link when either happens.
 */
export interface ReleaseBarrier {
  gate(maxWaitMs: number): Promise<void>;
  end(): void;
}

export function releaseBarrier(): ReleaseBarrier {
  let end: () => void = () => undefined;
  const ended = new Promise<void>((resolve) => (end = resolve));
  return {
    async gate(maxWaitMs) {
      send({ type: 'convoy:released' });
      if (!process.connected) return;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([ended, new Promise<void>((resolve) => (timer = setTimeout(resolve, maxWaitMs)))]);
      clearTimeout(timer);
    },
    end: () => end(),
  };
}

/**
 * Wire this child to its supervisor: report the worker's state, answer metrics requests (when
 * the supervisor serves /metrics) and CPU samples, take new shares of the host's counts, and
 * shut down when the supervisor is gone.
 */
export async function linkChild(
  events: ConvoyEmitter,
  worker: { id: string; stop(signal?: string): Promise<void>; resize(shares: Shares): void },
  barrier: ReleaseBarrier,
  settings: ChildSettings,
  log: Logger,
  gauges: readonly ProcessGauge[] = [],
): Promise<ChildLink> {
  const metrics = settings.metrics
    ? (await import('../monitor/worker-metrics.js')).createWorkerMetrics(events, { workerId: worker.id, gauges })
    : undefined;
  const offs = [
    events.on('worker:started', () => send({ type: 'convoy:state', state: 'running' })),
    events.on('worker:shutdown:begin', () => send({ type: 'convoy:state', state: 'draining' })),
    events.on('worker:shutdown:complete', () => send({ type: 'convoy:state', state: 'stopped' })),
  ];
  const onMessage = (msg: ToChild) => {
    if (msg?.type === 'convoy:end-receive') return barrier.end();
    if (msg?.type === 'convoy:cpu?') {
      const used = process.cpuUsage(); // every thread of the process: the event loop and piscina's
      return send({ type: 'convoy:cpu', micros: used.user + used.system });
    }
    if (msg?.type === 'convoy:shares') {
      const { processes, concurrency, transfers } = msg;
      log.info({ workerId: worker.id, processes, concurrency, transfers }, 'host counts divided again');
      return worker.resize({ processes, concurrency, transfers });
    }
    if (msg?.type !== 'convoy:metrics?' || !metrics) return;
    void metrics.registry
      .getMetricsAsJSON()
      .then((json) => send({ type: 'convoy:metrics', id: msg.id, metrics: json }))
      .catch(() => send({ type: 'convoy:metrics', id: msg.id, metrics: [] }));
  };
  const onDisconnect = () => {
    barrier.end();
    log.warn({ workerId: worker.id, supervisorPid: settings.supervisorPid }, 'supervisor gone; shutting down');
    void worker.stop('supervisor gone');
  };
  process.on('message', onMessage);
  process.once('disconnect', onDisconnect);
  // A supervisor that died while this child was starting closed the channel before anyone
  // listened: its 'disconnect' is gone, and the child would work on unsupervised for good.
  if (!process.connected) onDisconnect();
  return {
    close() {
      offs.forEach((off) => off());
      metrics?.detach();
      // without 'message' and 'disconnect' listeners the channel no longer keeps the process alive
      process.off('message', onMessage);
      process.off('disconnect', onDisconnect);
    },
  };
}
