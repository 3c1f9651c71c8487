/**
 * A host's /healthz and /metrics (`convoy worker --processes N --metrics-port P`): one endpoint
 * for every worker process of the host, served by the supervisor (the children bind no port).
 *   /healthz  200 while every process takes work ("running") or some do ("degraded": one is being
 *             restarted), 503 when none does or the host is shutting down; the body lists each
 *             process (slot, worker id, pid, state, restarts)
 *   /metrics  the children's registries (the same metrics a lone worker serves, see
 *             worker-metrics.ts, each series labelled with its process's `worker`), merged with
 *             prom-client's AggregatorRegistry.aggregate, plus the host's own:
 *             convoy_worker_host_processes{state}, convoy_worker_host_restarts_total, and the
 *             supervisor's Node process metrics (labelled with the host's worker id)
 * Bound to 127.0.0.1 unless a host is given.
 */
import { Hono } from 'hono';
import { listen, type Listening } from './listen.js';
import {
  AggregatorRegistry,
  collectDefaultMetrics,
  Counter,
  Gauge,
  Registry,
  type MetricObjectWithValues,
  type MetricValue,
} from 'prom-client';

/** What the supervisor tells the endpoint (worker/supervisor.ts implements it). */
export interface HostMetricsSource {
  health(): {
    status: 'running' | 'degraded' | 'stopping' | 'stopped';
    workerId: string;
    restarts: number;
    processes: Array<{ state: string }>;
  };
  /** every live child's registry, as `Registry.getMetricsAsJSON()` returns it */
  childMetrics(): Promise<unknown[][]>;
}

export interface HostMetricsOptions {
  /** @defaultValue '127.0.0.1' */
  host?: string;
  /** 0 = any free port */
  port: number;
  /** include the supervisor's Node process metrics. @defaultValue true */
  processMetrics?: boolean;
}

export interface HostMetrics {
  app: Hono;
  /** the supervisor's own metrics (the children's are added per scrape) */
  registry: Registry;
}

const PROCESS_STATES = ['standby', 'starting', 'running', 'draining', 'stopped', 'restarting', 'exited'] as const;

export function createHostMetrics(source: HostMetricsSource, opts: Pick<HostMetricsOptions, 'processMetrics'> = {}) {
  const registry = new Registry();
  registry.setDefaultLabels({ worker: source.health().workerId });
  if (opts.processMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'convoy_worker_process_' });
  new Gauge({
    name: 'convoy_worker_host_processes',
    help: "The host's worker processes by state (standby: a slot --processes auto has not needed yet)",
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const byState = new Map<string, number>(PROCESS_STATES.map((s) => [s, 0]));
      for (const p of source.health().processes) byState.set(p.state, (byState.get(p.state) ?? 0) + 1);
      for (const [state, n] of byState) this.set({ state }, n);
    },
  });
  new Counter({
    name: 'convoy_worker_host_restarts_total',
    help: 'Worker processes restarted after they exited unasked',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(source.health().restarts);
    },
  });

  const app = new Hono();
  app.get('/healthz', (c) => {
    const h = source.health();
    const up = h.processes.some((p) => p.state === 'running');
    return c.json(h, (h.status === 'running' || h.status === 'degraded') && up ? 200 : 503);
  });
  app.get('/metrics', async (c) => {
    const children = (await source.childMetrics()) as MetricObjectWithValues<MetricValue<string>>[][];
    const merged = AggregatorRegistry.aggregate([await registry.getMetricsAsJSON(), ...children]);
    return c.body(await merged.metrics(), 200, { 'content-type': merged.contentType });
  });
  return { app, registry } satisfies HostMetrics;
}

/** Serve a host's /healthz and /metrics; resolves once listening. */
export async function serveHostMetrics(source: HostMetricsSource, opts: HostMetricsOptions): Promise<Listening> {
  return listen(createHostMetrics(source, opts).app, opts);
}
