/**
 * A worker's own /healthz and /metrics (`convoy worker --metrics-port`), fed only by its
 * ConvoyEmitter events, so it costs no state reads and works for every job kind.
 *   /healthz  200 {"status":"running"} while the worker takes work, 503 once it is shutting down
 *   /metrics  prom-client text: items by outcome, failures by class, bytes, objects, in flight,
 *             item durations, plus the process's default metrics (CPU, memory, event loop lag)
 * Bound to 127.0.0.1 unless a host is given.
 */
import { Hono } from 'hono';
import { listen, type Listening } from './listen.js';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ConvoyEmitter } from '../shared/events.js';
import type { ProcessGauge } from '../worker/job-kind.js';

export interface WorkerMetricsOptions {
  workerId: string;
  /** @defaultValue '127.0.0.1' */
  host?: string;
  /** 0 = any free port */
  port: number;
  /** include Node process metrics. @defaultValue true */
  processMetrics?: boolean;
  /** the kinds' gauges of this process (KindPlugin.processGauges), read at each scrape */
  gauges?: readonly ProcessGauge[];
}

export interface WorkerMetrics {
  app: Hono;
  registry: Registry;
  /** stop listening to events */
  detach(): void;
}

export function createWorkerMetrics(
  events: ConvoyEmitter,
  opts: Omit<WorkerMetricsOptions, 'port' | 'host'>,
): WorkerMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ worker: opts.workerId });
  if (opts.processMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'convoy_worker_process_' });
  const r = [registry];
  for (const g of opts.gauges ?? [])
    new Gauge({
      name: g.name,
      help: g.help,
      registers: r,
      collect() {
        this.set(g.value());
      },
    });
  const claimed = new Counter({
    name: 'convoy_worker_items_claimed_total',
    help: 'Items claimed',
    labelNames: ['run'],
    registers: r,
  });
  const completed = new Counter({
    name: 'convoy_worker_items_completed_total',
    help: 'Items completed',
    labelNames: ['run'],
    registers: r,
  });
  const failed = new Counter({
    name: 'convoy_worker_items_failed_total',
    help: 'Items failed for good, by error class',
    labelNames: ['run', 'error_class'],
    registers: r,
  });
  const retried = new Counter({
    name: 'convoy_worker_item_retries_total',
    help: 'Failed attempts that will be retried, by error class',
    labelNames: ['run', 'error_class'],
    registers: r,
  });
  const released = new Counter({
    name: 'convoy_worker_items_released_total',
    help: 'Items given back unworked (shutdown)',
    labelNames: ['run'],
    registers: r,
  });
  const leaseLost = new Counter({
    name: 'convoy_worker_leases_lost_total',
    help: 'Leases lost while working',
    labelNames: ['run'],
    registers: r,
  });
  const bytes = new Counter({
    name: 'convoy_worker_bytes_total',
    help: 'Bytes moved by completed items',
    labelNames: ['run'],
    registers: r,
  });
  const objects = new Counter({
    name: 'convoy_worker_objects_total',
    help: 'Objects moved by completed items',
    labelNames: ['run'],
    registers: r,
  });
  const inFlight = new Gauge({
    name: 'convoy_worker_items_in_flight',
    help: 'Items this worker is working on',
    registers: r,
  });
  const duration = new Histogram({
    name: 'convoy_worker_item_duration_seconds',
    help: 'Time to complete an item',
    labelNames: ['run'],
    buckets: [0.05, 0.25, 1, 5, 15, 60, 300, 1800],
    registers: r,
  });
  const held = new Set<string>();
  const key = (p: { runId: string; itemId: string }) => `${p.runId}\u0000${p.itemId}`;
  const settle = (p: { runId: string; itemId: string }) => {
    held.delete(key(p));
    inFlight.set(held.size);
  };
  let state: 'running' | 'stopping' | 'stopped' = 'running';
  const offs = [
    events.on('item:claimed', (p) => {
      claimed.inc({ run: p.runId });
      held.add(key(p));
      inFlight.set(held.size);
    }),
    events.on('item:completed', (p) => {
      completed.inc({ run: p.runId });
      bytes.inc({ run: p.runId }, p.bytes);
      objects.inc({ run: p.runId }, p.objects);
      duration.observe({ run: p.runId }, p.durationMs / 1000);
      settle(p);
    }),
    events.on('item:failed', (p) => {
      failed.inc({ run: p.runId, error_class: p.errorClass });
      settle(p);
    }),
    events.on('item:retry', (p) => {
      retried.inc({ run: p.runId, error_class: p.errorClass });
      settle(p);
    }),
    events.on('item:released', (p) => {
      released.inc({ run: p.runId });
      settle(p);
    }),
    events.on('item:lease:lost', (p) => {
      leaseLost.inc({ run: p.runId });
      settle(p);
    }),
    events.on('worker:shutdown:begin', () => (state = 'stopping')),
    events.on('worker:shutdown:complete', () => (state = 'stopped')),
  ];

  const app = new Hono();
  app.get('/healthz', (c) =>
    c.json({ status: state, workerId: opts.workerId, inFlight: held.size }, state === 'running' ? 200 : 503),
  );
  app.get('/metrics', async (c) => c.body(await registry.metrics(), 200, { 'content-type': registry.contentType }));
  return { app, registry, detach: () => offs.forEach((off) => off()) };
}

/** Serve a worker's /healthz and /metrics; resolves once listening. */
export async function serveWorkerMetrics(events: ConvoyEmitter, opts: WorkerMetricsOptions): Promise<Listening> {
  const m = createWorkerMetrics(events, opts);
  const server = await listen(m.app, opts);
  return {
    url: server.url,
    close: async () => {
      m.detach();
      await server.close();
    },
  };
}
