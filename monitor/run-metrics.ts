/**
 * Prometheus metrics for `convoy serve` (prom-client, a registry of its own): computed on each
 * scrape from the snapshots of the active runs (the same cached reads as the dashboard, so a
 * scrape costs what a refresh costs). Gauges, because they are read from state, not counted here.
 */
import { Gauge, Registry } from 'prom-client';
import type { RunSnapshot } from './snapshot.js';

export class RunMetrics {
  readonly registry = new Registry();
  private readonly items;
  private readonly failedByClass;
  private readonly bytes;
  private readonly objects;
  private readonly inFlight;
  private readonly rate;
  private readonly eta;
  private readonly queue;
  private readonly dlq;
  private readonly workerRate;
  private readonly workerMib;
  private readonly workerInFlight;
  private readonly workerUp;
  private readonly workerBeatAge;

  constructor() {
    const r = [this.registry];
    this.items = new Gauge({
      name: 'convoy_run_items',
      help: 'Items of a run by status',
      labelNames: ['run', 'kind', 'status'],
      registers: r,
    });
    this.failedByClass = new Gauge({
      name: 'convoy_run_failed_items',
      help: 'Failed items of a run by error class',
      labelNames: ['run', 'error_class'],
      registers: r,
    });
    this.bytes = new Gauge({
      name: 'convoy_run_bytes_moved',
      help: 'Bytes moved by a run (counters)',
      labelNames: ['run'],
      registers: r,
    });
    this.objects = new Gauge({
      name: 'convoy_run_objects_moved',
      help: 'Objects moved by a run (counters)',
      labelNames: ['run'],
      registers: r,
    });
    this.inFlight = new Gauge({
      name: 'convoy_run_items_in_flight',
      help: 'Items of a run leased by a worker now',
      labelNames: ['run'],
      registers: r,
    });
    this.rate = new Gauge({
      name: 'convoy_run_items_per_minute',
      help: 'Items done per minute over the rate window',
      labelNames: ['run'],
      registers: r,
    });
    this.eta = new Gauge({
      name: 'convoy_run_eta_seconds',
      help: 'Seconds left at the current rate (absent when unknown)',
      labelNames: ['run'],
      registers: r,
    });
    this.queue = new Gauge({
      name: 'convoy_queue_messages',
      help: 'Work queue messages by state',
      labelNames: ['state'],
      registers: r,
    });
    this.dlq = new Gauge({ name: 'convoy_dlq_messages', help: 'Messages in the dead-letter queue', registers: r });
    this.workerRate = new Gauge({
      name: 'convoy_worker_items_per_minute',
      help: 'Items a worker finished per minute over the rate window',
      labelNames: ['run', 'worker', 'instance'],
      registers: r,
    });
    this.workerMib = new Gauge({
      name: 'convoy_worker_mib_per_second',
      help: 'MiB a worker moved per second over the rate window',
      labelNames: ['run', 'worker', 'instance'],
      registers: r,
    });
    this.workerInFlight = new Gauge({
      name: 'convoy_worker_in_flight',
      help: 'Items a worker holds (its last heartbeat)',
      labelNames: ['worker', 'instance'],
      registers: r,
    });
    this.workerUp = new Gauge({
      name: 'convoy_worker_up',
      help: '1 when a worker heartbeats on time, 0 when stale or stopped',
      labelNames: ['worker', 'instance', 'state'],
      registers: r,
    });
    this.workerBeatAge = new Gauge({
      name: 'convoy_worker_heartbeat_age_seconds',
      help: 'Seconds since a worker last heartbeat',
      labelNames: ['worker', 'instance'],
      registers: r,
    });
  }

  /** Replace every value with the ones in these snapshots and render the text format. */
  async render(snapshots: RunSnapshot[]): Promise<string> {
    this.registry.resetMetrics();
    for (const s of snapshots) {
      const run = s.run.runId;
      for (const [status, n] of Object.entries(s.counts)) this.items.set({ run, kind: s.run.kind, status }, n);
      for (const [cls, n] of Object.entries(s.failuresByClass)) this.failedByClass.set({ run, error_class: cls }, n);
      this.bytes.set({ run }, s.counters.bytes);
      this.objects.set({ run }, s.counters.objects);
      this.inFlight.set({ run }, s.counts.leased);
      this.rate.set({ run }, s.rate.itemsPerMin);
      if (s.etaSeconds !== null) this.eta.set({ run }, s.etaSeconds);
      for (const w of s.workers) {
        if (w.itemsPerMin > 0 || w.mibPerSec > 0) {
          this.workerRate.set({ run, worker: w.workerId, instance: w.instance ?? '' }, w.itemsPerMin);
          this.workerMib.set({ run, worker: w.workerId, instance: w.instance ?? '' }, w.mibPerSec);
        }
      }
    }
    // Fleet-wide values are the same in every snapshot: take the newest.
    const newest = [...snapshots].sort((a, b) => b.generatedAtMs - a.generatedAtMs)[0];
    if (newest?.queue) {
      this.queue.set({ state: 'visible' }, newest.queue.visible);
      this.queue.set({ state: 'in_flight' }, newest.queue.inFlight);
      this.queue.set({ state: 'delayed' }, newest.queue.delayed);
      this.dlq.set(newest.queue.dlqVisible);
    }
    for (const w of newest?.workers ?? []) {
      const labels = { worker: w.workerId, instance: w.instance ?? '' };
      this.workerInFlight.set(labels, w.status === 'alive' ? w.inFlight : 0);
      this.workerUp.set({ ...labels, state: w.status }, w.status === 'alive' || w.status === 'draining' ? 1 : 0);
      this.workerBeatAge.set(labels, Math.round(w.beatAgeMs / 1000));
    }
    return this.registry.metrics();
  }
}
