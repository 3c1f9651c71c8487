/**
 * The fleet-wide view: every active run in one table (`convoy monitor` without --run), and the
 * choice of runs `--watch` follows when no --run is given. A run is active while it is planning,
 * running or paused, and for an hour after it finished (as in `convoy serve`'s /metrics), so a
 * run that just ended is still on screen with its final numbers. Below the runs, the workers by
 * host: the processes of one `convoy worker --processes N` under their supervisor (hostViews).
 * Cost: one Scan of the run rows (runs are few), then one snapshot per active run.
 */
import type { ConvoyContext } from '../shared/context.js';
import { listRuns, type RunRow } from '../state/runs.js';
import { formatEta, type LeaseWait, type WorkerState } from './rates.js';
import type { RunSnapshot, SnapshotReader, WorkerView } from './snapshot.js';
import { formatWorkerRow, WORKER_HEADER } from './views.js';

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
  /** the same workers by host: a supervisor's processes together (null when no run was read) */
  hosts: HostView[] | null;
}

/**
 * One host: the processes one `convoy worker` started (`--processes N`: its supervisor's
 * children, grouped by host name and supervisor pid), or a process started alone (`--processes 1`).
 */
export interface HostView {
  host: string;
  /** the supervisor's pid; null for a process started alone */
  supervisorPid: number | null;
  instance?: string;
  /** processes the supervisor runs (N); 1 for a process alone */
  expected: number;
  /** by slot (a restarted process keeps its slot and worker id) */
  processes: WorkerView[];
  alive: number;
  inFlight: number;
  itemsPerMin: number;
  mibPerSec: number;
}

export function hostViews(workers: WorkerView[]): HostView[] {
  const byHost = new Map<string, WorkerView[]>();
  for (const w of workers) {
    const key = `${w.host}\u0000${w.supervisorPid ?? `pid ${w.pid}`}`;
    byHost.set(key, [...(byHost.get(key) ?? []), w]);
  }
  return [...byHost.values()]
    .map((ps) => {
      ps.sort((a, b) => (a.slot ?? 0) - (b.slot ?? 0) || a.workerId.localeCompare(b.workerId));
      const alive = ps.filter((w) => w.status === 'alive');
      return {
        host: ps[0]!.host,
        supervisorPid: ps[0]!.supervisorPid ?? null,
        instance: ps[0]!.instance,
        expected: ps[0]!.processes ?? 1,
        processes: ps,
        alive: alive.length,
        inFlight: alive.reduce((a, w) => a + w.inFlight, 0),
        itemsPerMin: ps.reduce((a, w) => a + w.itemsPerMin, 0),
        mibPerSec: ps.reduce((a, w) => a + w.mibPerSec, 0),
      };
    })
    .sort((a, b) => a.host.localeCompare(b.host) || (a.supervisorPid ?? 0) - (b.supervisorPid ?? 0));
}

export function formatHosts(hosts: HostView[]): string {
  if (!hosts.length) return '';
  const lines = [`hosts: ${hosts.length}`];
  for (const h of hosts) {
    const who = h.supervisorPid === null ? `pid ${h.processes[0]!.pid}, alone` : `supervisor pid ${h.supervisorPid}`;
    lines.push(
      `  host ${h.host} (${who}${h.instance ? `, instance ${h.instance}` : ''}): ${h.alive}/${h.expected} process(es) alive, ${h.inFlight} in flight, ${h.itemsPerMin.toFixed(1)} items/min, ${h.mibPerSec.toFixed(2)} MiB/s`,
    );
    lines.push(`    ${'slot'.padStart(4)} ${WORKER_HEADER}`);
    for (const w of h.processes) lines.push(`    ${String(w.slot ?? '-').padStart(4)} ${formatWorkerRow(w)}`);
  }
  return lines.join('\n');
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
    hosts: snaps[0] ? hostViews(snaps[0].workers) : null,
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
  return [`${v.runs.length} active run(s)`, header, ...rows, workers, formatHosts(v.hosts ?? [])]
    .filter(Boolean)
    .join('\n');
}

/** One line for the dashboard: the other active runs beside the one it shows. */
export function otherRunsLine(others: RunSnapshot[]): string {
  if (!others.length) return '';
  return `other active runs: ${others.map((s) => `${s.run.runId} ${s.progress.donePercent.toFixed(1)}% ETA ${formatEta(s.run.state, s.etaSeconds, { short: true, remaining: s.remaining })}`).join(' | ')}`;
}
