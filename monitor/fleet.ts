/**
 * The fleet-wide view: every active run in one table (`convoy monitor` without --run), and the
 * choice of runs `--watch` follows when no --run is given. A run is active while it is planning,
 * running or paused, and for an hour after it finished (as in `convoy serve`'s /metrics), so a
 * run that just ended is still on screen with its final numbers.
 * Cost: one Scan of the run rows (runs are few), then one snapshot per active run.
 */
import type { ConvoyContext } from '../shared/context.js';
import { listRuns, type RunRow } from '../state/runs.js';
import { formatEta, type LeaseWait, type WorkerState } from './rates.js';
import type { RunSnapshot, SnapshotReader } from './snapshot.js';

export const KEEP_FINISHED_MS = 3_600_000;

export function isActiveRun(r: RunRow, nowMs: number, keepFinishedMs = KEEP_FINISHED_MS): boolean {
  return (
    r.state === 'planning' ||
    r.state === 'running' ||
    r.state === 'paused' ||
    nowMs - (r.finishedAtMs ?? r.updatedAtMs) < keepFinishedMs
  );
}

/** The active runs, newest first; when none is active, the newest run alone (empty: no runs at all). */
export async function runsToFollow(
  ctx: ConvoyContext,
  keepFinishedMs = KEEP_FINISHED_MS,
): Promise<{ runs: RunRow[]; active: boolean }> {
  const all = await listRuns(ctx.meta);
  const active = all.filter((r) => isActiveRun(r, ctx.now(), keepFinishedMs));
  return active.length ? { runs: active, active: true } : { runs: all.slice(0, 1), active: false };
}

export interface FleetRow {
  runId: string;
  kind: string;
  state: string;
  total: number;
  done: number;
  failed: number;
  remaining: number;
  donePercent: number;
  failedPercent: number;
  itemsPerMin: number;
  mibPerSec: number;
  etaSeconds: number | null;
  eta: string;
  leaseWait: LeaseWait | null;
  countsExact: boolean;
}

export interface FleetView {
  generatedAtMs: number;
  /** every active run, newest first */
  runs: FleetRow[];
  /** when no run is active: the newest run's id (null: no runs at all) */
  newestRunId: string | null;
  /** the fleet's workers (from the heartbeat rows; null when no run was read) */
  workers: Record<WorkerState, number> | null;
}

export function fleetRow(s: RunSnapshot): FleetRow {
  return {
    runId: s.run.runId,
    kind: s.run.kind,
    state: s.run.state,
    total: s.total,
    done: s.progress.done,
    failed: s.progress.failed,
    remaining: s.remaining,
    donePercent: s.progress.donePercent,
    failedPercent: s.progress.failedPercent,
    itemsPerMin: s.rate.itemsPerMin,
    mibPerSec: s.rate.mibPerSec,
    etaSeconds: s.etaSeconds,
    eta: formatEta(s.run.state, s.etaSeconds, { remaining: s.remaining, leaseWait: s.leaseWait }),
    leaseWait: s.leaseWait,
    countsExact: s.countsExact,
  };
}

export async function readFleet(
  ctx: ConvoyContext,
  reader: SnapshotReader,
  opts: { keepFinishedMs?: number } = {},
): Promise<FleetView> {
  const { runs, active } = await runsToFollow(ctx, opts.keepFinishedMs);
  const snaps = active ? await Promise.all(runs.map((r) => reader.read(r.runId))) : [];
  return {
    generatedAtMs: ctx.now(),
    runs: snaps.map(fleetRow),
    newestRunId: active ? null : (runs[0]?.runId ?? null),
    workers: snaps[0]?.workerCounts ?? null,
  };
}

export function formatFleet(v: FleetView): string {
  if (!v.runs.length) {
    return v.newestRunId
      ? `no active runs (planning, running, paused, or finished in the last hour); the newest is ${v.newestRunId}: convoy monitor --run ${v.newestRunId}`
      : 'no runs yet; create one with `convoy plan`';
  }
  const header = `${'run'.padEnd(24)} ${'kind'.padEnd(14)} ${'state'.padEnd(9)} ${'done'.padStart(15)} ${'failed'.padStart(14)} ${'to do'.padStart(7)} ${'items/min'.padStart(9)} ${'MiB/s'.padStart(7)}  ETA`;
  const rows = v.runs.map((r) =>
    [
      r.runId.padEnd(24),
      r.kind.padEnd(14),
      r.state.padEnd(9),
      `${r.done}/${r.total} ${r.donePercent.toFixed(1)}%`.padStart(15),
      `${r.failed} ${r.failedPercent.toFixed(1)}%`.padStart(14),
      String(r.remaining).padStart(7),
      r.itemsPerMin.toFixed(1).padStart(9),
      r.mibPerSec.toFixed(2).padStart(7),
      ` ${r.eta}`,
    ].join(' '),
  );
  const w = v.workers;
  const workers = w
    ? `workers: ${w.alive} alive, ${w.stale} stale, ${w.draining} draining, ${w.stopped} stopped, ${w.gone} gone`
    : '';
  return [`${v.runs.length} active run(s)`, header, ...rows, workers].filter(Boolean).join('\n');
}

/** One line for the dashboard: the other active runs beside the one it shows. */
export function otherRunsLine(others: RunSnapshot[]): string {
  if (!others.length) return '';
  return `other active runs: ${others.map((s) => `${s.run.runId} ${s.progress.donePercent.toFixed(1)}% ETA ${formatEta(s.run.state, s.etaSeconds, { short: true, remaining: s.remaining })}`).join(' | ')}`;
}
