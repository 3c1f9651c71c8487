/**
 * The host's /healthz and /metrics (monitor/host-metrics.ts) in-process: the children's
 * registries (as a supervisor receives them over IPC) merged with the host's own metrics, and
 * the health code in each state of the host. The CLI end to end is in host.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { createHostMetrics, type HostMetricsSource } from '../../monitor/host-metrics.js';
import { createWorkerMetrics } from '../../monitor/worker-metrics.js';
import { ConvoyEmitter } from '../../shared/events.js';

type Health = ReturnType<HostMetricsSource['health']>;

function child(workerId: string, completed: number) {
  const events = new ConvoyEmitter();
  const m = createWorkerMetrics(events, { workerId, processMetrics: false });
  for (let i = 0; i < completed; i++) {
    events.safeEmit('item:claimed', { runId: 'r', itemId: `${workerId}-${i}`, attempt: 1 });
    events.safeEmit('item:completed', { runId: 'r', itemId: `${workerId}-${i}`, durationMs: 10, bytes: 5, objects: 1 });
  }
  return m;
}

function source(health: Health, registries: Array<ReturnType<typeof child>>): HostMetricsSource {
  return {
    health: () => health,
    childMetrics: () => Promise.all(registries.map((r) => r.registry.getMetricsAsJSON())),
  };
}

const processes = (...states: string[]) => states.map((state) => ({ state }));

describe('host /metrics', () => {
  it("merges the processes' registries (each series keeps its worker label) and adds the host's", async () => {
    const health: Health = {
      status: 'running',
      workerId: 'h',
      restarts: 3,
      processes: processes('running', 'running'),
    };
    const m = createHostMetrics(source(health, [child('h-p1', 2), child('h-p2', 5)]), { processMetrics: false });
    const text = await (await m.app.request('/metrics')).text();
    expect(text).toMatch(/^convoy_worker_items_completed_total\{run="r",worker="h-p1"\} 2$/m);
    expect(text).toMatch(/^convoy_worker_items_completed_total\{run="r",worker="h-p2"\} 5$/m);
    expect(text).toMatch(/^convoy_worker_bytes_total\{run="r",worker="h-p2"\} 25$/m);
    expect(text).toMatch(/^convoy_worker_item_duration_seconds_count\{run="r",worker="h-p1"\} 2$/m);
    expect(text).toMatch(/^convoy_worker_host_processes\{state="running",worker="h"\} 2$/m);
    expect(text).toMatch(/^convoy_worker_host_processes\{state="restarting",worker="h"\} 0$/m);
    expect(text).toMatch(/^convoy_worker_host_restarts_total\{worker="h"\} 3$/m);
    // one HELP/TYPE per metric name, whatever the number of processes
    expect(text.match(/^# TYPE convoy_worker_items_completed_total /gm)).toHaveLength(1);
  });
});

describe('host /healthz', () => {
  const code = async (health: Health) =>
    (await createHostMetrics(source(health, []), { processMetrics: false }).app.request('/healthz')).status;
  const h = (status: Health['status'], ...states: string[]): Health => ({
    status,
    workerId: 'h',
    restarts: 0,
    processes: processes(...states),
  });

  it('200 while every process, or some, takes work; 503 when none does or the host stops', async () => {
    expect(await code(h('running', 'running', 'running'))).toBe(200);
    expect(await code(h('degraded', 'running', 'restarting'))).toBe(200);
    expect(await code(h('degraded', 'starting', 'restarting'))).toBe(503);
    expect(await code(h('stopping', 'draining', 'draining'))).toBe(503);
    expect(await code(h('stopped', 'exited', 'exited'))).toBe(503);
  });

  it('lists every process', async () => {
    const list = [
      { slot: 1, workerId: 'h-p1', pid: 11, state: 'running', restarts: 0 },
      { slot: 2, workerId: 'h-p2', pid: null, state: 'restarting', restarts: 1 },
    ];
    const health: Health = { status: 'degraded', workerId: 'h', restarts: 1, processes: list };
    const res = await createHostMetrics(source(health, []), { processMetrics: false }).app.request('/healthz');
    expect(await res.json()).toEqual(health);
  });
});
