/**
 * What the --watch dashboard shows, computed from a snapshot (pure, unit-tested). The blessed
 * code in dashboard.ts only copies these strings and numbers into widgets.
 */
import { formatSettings } from '../coordinator/run-settings.js';
import type { StuckItem } from './filters.js';
import { otherRunsLine } from './fleet.js';
import { formatBytes, formatDuration, percent } from './rates.js';
import type { RunSnapshot } from './snapshot.js';
import { etaText, sortedClasses } from './summary.js';

export interface DashboardModel {
  title: string;
  itemsSeries: { title: string; x: string[]; y: number[] };
  mibSeries: { title: string; x: string[]; y: number[] };
  progressPercent: number;
  progressLabel: string;
  queueText: string;
  summaryText: string;
  failureRows: string[][];
  stuckRows: string[][];
  workerRows: string[][];
  recentFailureLines: string[];
}

export const WORKER_COLUMNS = ['instance', 'host', 'pid', 'in flight', 'items/min', 'MiB/s', 'last beat', 'state'];
export const FAILURE_COLUMNS = ['class', 'items'];
export const STUCK_COLUMNS = ['reason', 'for', 'item'];

/** `others`: the other active runs (watch without --run), named on the queue line. */
export function dashboardModel(s: RunSnapshot, stuck: StuckItem[], others: RunSnapshot[] = []): DashboardModel {
  const c = s.counts;
  const q = s.queue;
  const x = s.series.map((p) => new Date(p.bucket * 60_000).toISOString().slice(11, 16));
  return {
    title: `convoy monitor: run ${s.run.runId} (${s.run.kind})`,
    itemsSeries: { title: 'items/min', x, y: s.series.map((p) => round1(p.itemsPerMin)) },
    mibSeries: { title: 'MiB/s', x, y: s.series.map((p) => round1(p.mibPerSec)) },
    // the gauge is done / total: failed items are not progress (a run with 4% failed is not 100%)
    progressPercent: s.total ? Math.min(100, Math.floor((100 * c.done) / s.total)) : 0,
    progressLabel: `done ${c.done}/${s.total} (${s.progress.donePercent.toFixed(1)}%)  failed ${c.failed} (${s.progress.failedPercent.toFixed(1)}%)  ETA ${etaText(s)}`,
    queueText: [
      q
        ? `queue ${q.visible} waiting  ${q.inFlight} in flight  ${q.delayed} delayed    DLQ ${q.dlqVisible}`
        : 'queue unavailable',
      otherRunsLine(others),
    ]
      .filter(Boolean)
      .join('\n'),
    summaryText: [
      `state ${s.run.state}${s.run.planComplete ? '' : ' (planning)'}${s.pauseAdvice ? ' by itself: failed items passed --max-failed (convoy status says what to do)' : ''}`,
      formatSettings(s.settings),
      `done ${c.done} (${percent(c.done, s.total)}%)`,
      `pending ${c.pending}`,
      `leased ${c.leased}`,
      `retrying ${c.retrying}`,
      `failed ${c.failed} (${percent(c.failed, s.total)}%)`,
      `moved ${formatBytes(s.counters.bytes)}, ${s.counters.objects} objects`,
      `rate ${s.rate.itemsPerMin.toFixed(1)} items/min ${s.rate.mibPerSec.toFixed(2)} MiB/s`,
      `workers ${s.workerCounts.alive} alive ${s.workerCounts.stale} stale ${s.workerCounts.gone} gone`,
      s.countsExact ? 'counts exact' : `counts: pending/done from counters`,
    ].join('\n'),
    failureRows: sortedClasses(s.failuresByClass).map(([cls, n]) => [cls, String(n)]),
    stuckRows: stuck.map((i) => [i.reason, formatDuration(Math.round(i.forMs / 1000)), i.itemId]),
    workerRows: [...s.workers]
      .sort((a, b) => Number(a.status === 'stopped') - Number(b.status === 'stopped'))
      .map((w) => [
        w.instance ?? '-',
        w.host,
        String(w.pid),
        String(w.inFlight),
        w.itemsPerMin.toFixed(1),
        w.mibPerSec.toFixed(2),
        `${Math.round(w.beatAgeMs / 1000)}s ago`,
        w.status.toUpperCase(),
      ]),
    recentFailureLines: s.recentFailures.map(
      (f) =>
        `${f.finishedAtMs ? new Date(f.finishedAtMs).toISOString().slice(11, 19) : '--:--:--'} ${f.lastError?.errorClass ?? 'UNKNOWN'} ${f.itemId}: ${(f.lastError?.message ?? '').replace(/\s+/g, ' ').slice(0, 120)}`,
    ),
  };
}

/** The status line: when it was refreshed, or the error it keeps retrying after. */
export function statusLine(state: {
  lastOkAtMs: number | null;
  refreshMs: number | null;
  error: string | null;
  nowMs: number;
  intervalMs: number;
}): string {
  const at = (ms: number) => new Date(ms).toISOString().slice(11, 19);
  if (state.error) {
    const since = state.lastOkAtMs === null ? 'no data yet' : `showing data from ${at(state.lastOkAtMs)}`;
    return `ERROR ${state.error.replace(/\s+/g, ' ').slice(0, 160)} | retrying every ${state.intervalMs / 1000}s | ${since} | q quits`;
  }
  return `OK refreshed ${state.lastOkAtMs === null ? '-' : at(state.lastOkAtMs)} in ${state.refreshMs ?? '-'} ms | every ${state.intervalMs / 1000}s | q quits`;
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}
