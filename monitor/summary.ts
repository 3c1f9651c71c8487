/**
 * The run summary every monitor view starts from: `buildSummary` reads a snapshot with exact
 * counts (one-shot commands), and the formatters turn a snapshot into text (pure).
 * For the cost of a read see snapshot.ts.
 */
import type { ConvoyContext } from '../shared/context.js';
import { describeFleetRate } from '../state/fleet-rates.js';
import { formatSettings } from '../coordinator/run-settings.js';
import { formatBytes, formatEta, percent } from './rates.js';
import { SnapshotReader, type RunSnapshot, type SnapshotOptions } from './snapshot.js';

export type { RunSnapshot as RunSummary } from './snapshot.js';

/** One exact snapshot (every count exact, failures by class read in full). */
export async function buildSummary(
  ctx: ConvoyContext,
  runId: string,
  opts: SnapshotOptions = {},
): Promise<RunSnapshot> {
  return new SnapshotReader(ctx, { seriesMinutes: 0, ...opts, exact: true }).read(runId);
}

const STATUSES = ['done', 'pending', 'leased', 'retrying', 'failed'] as const;

export function formatSummary(s: RunSnapshot): string {
  const c = s.counts;
  const q = s.queue;
  const lines = [
    `run ${s.run.runId}  kind=${s.run.kind}  state=${s.run.state}${s.run.planComplete ? '' : ' (planning)'}`,
    `items ${s.total}${s.countsExact ? '' : ` (pending/done estimated from counters; exact ${ago(s.countsExactAtMs, s.generatedAtMs)})`}`,
    ...STATUSES.map((k) => `  ${k.padEnd(9)} ${String(c[k]).padStart(9)}  ${percent(c[k], s.total).padStart(5)}%`),
    progressLine(s),
    `moved: ${formatBytes(s.counters.bytes)} in ${s.counters.objects} objects (${s.counters.skipped} skipped unchanged, ${formatBytes(s.counters.skippedBytes)}; ${s.counters.retries} retries)${s.totalsFrom === 'items' ? ' [from the item rows]' : ''}`,
    `rate (last ${s.rate.windowMinutes} min): ${s.rate.itemsPerMin.toFixed(1)} items/min, ${s.rate.mibPerSec.toFixed(2)} MiB/s  ETA ${etaText(s)}`,
    ...(s.fleetRates ?? []).map(describeFleetRate),
    q
      ? `queue: ${q.visible} waiting, ${q.inFlight} in flight, ${q.delayed} delayed; DLQ ${q.dlqVisible}`
      : 'queue: unavailable',
    `workers: ${s.workerCounts.alive} alive, ${s.workerCounts.stale} stale, ${s.workerCounts.draining} draining, ${s.workerCounts.stopped} stopped, ${s.workerCounts.gone} gone`,
  ];
  lines.push(formatSettings(s.settings));
  if (s.pauseAdvice) lines.push(s.pauseAdvice);
  const classes = sortedClasses(s.failuresByClass);
  if (classes.length) {
    lines.push('failures by class:');
    for (const [cls, n] of classes) lines.push(`  ${cls.padEnd(28)} ${n}`);
  }
  for (const w of s.warnings) lines.push(`warning: ${w}`);
  // Pending work with no message anywhere in the queue is never taken (messages lost, e.g. a
  // local-stack restart); a paused run is the exception: resume re-sends its items.
  if (c.pending > 0 && q && q.visible + q.inFlight + q.delayed === 0 && s.run.state !== 'paused') {
    lines.push(
      `hint: ${c.pending} pending items have no message in the queue: run convoy reconcile --run ${s.run.runId}`,
    );
  }
  return lines.join('\n');
}

/** One line per refresh for logs (the --watch fallback when stdout is not a terminal). */
export function formatSummaryLine(s: RunSnapshot): string {
  const c = s.counts;
  const q = s.queue;
  const classes = sortedClasses(s.failuresByClass)
    .map(([k, n]) => `${k}=${n}`)
    .join(',');
  return [
    new Date(s.generatedAtMs).toISOString(),
    `run=${s.run.runId}`,
    `state=${s.run.state}${s.run.state === 'paused' && s.run.pauseReason ? '(max-failed)' : ''}`,
    `done=${c.done}/${s.total}(${percent(c.done, s.total)}%)`,
    `pending=${c.pending}`,
    `leased=${c.leased}`,
    `retrying=${c.retrying}`,
    `failed=${c.failed}${classes ? `[${classes}]` : ''}`,
    `rate=${s.rate.itemsPerMin.toFixed(1)}/min`,
    `mibps=${s.rate.mibPerSec.toFixed(2)}`,
    `eta=${formatEta(s.run.state, s.etaSeconds, { short: true, remaining: s.remaining })}`,
    ...(s.leaseWait ? [`leasewait=${s.leaseWait.items}items/${s.leaseWait.seconds}s`] : []),
    q ? `queue=${q.visible}` : 'queue=?',
    q ? `inflight=${q.inFlight}` : 'inflight=?',
    q ? `dlq=${q.dlqVisible}` : 'dlq=?',
    `workers=${s.workerCounts.alive}alive/${s.workerCounts.stale}stale/${s.workerCounts.gone}gone`,
    ...settingsTokens(s),
  ].join(' ');
}

/** The tuned or planned settings as `key=value` tokens (none shown when none is set). */
function settingsTokens(s: RunSnapshot): string[] {
  const v = s.settings;
  const all: Array<[string, { value: unknown } | undefined]> = [
    ['concurrency', v.concurrency],
    ['bwlimit', v.bwlimit],
    ['tpslimit', v.tpslimit],
    ['maxfailed', v.maxFailed],
  ];
  return all.filter(([, x]) => x && x.value !== null).map(([k, x]) => `${k}=${x!.value}`);
}

/** Progress is what is done; failed items are shown beside it, never counted as progress. */
export function progressLine(s: RunSnapshot): string {
  const p = s.progress;
  return `progress: ${p.done}/${p.total} done (${p.donePercent.toFixed(1)}%), ${p.failed} failed (${p.failedPercent.toFixed(1)}%), ${s.remaining} to do`;
}

/** The ETA as the summary and the dashboard show it (lease waits, a paused run with nothing left). */
export function etaText(s: RunSnapshot): string {
  return formatEta(s.run.state, s.etaSeconds, { remaining: s.remaining, leaseWait: s.leaseWait });
}

export function sortedClasses(byClass: Record<string, number>): Array<[string, number]> {
  return Object.entries(byClass).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}

function ago(atMs: number | null, nowMs: number): string {
  return atMs === null ? 'pending' : `${Math.round((nowMs - atMs) / 1000)} s ago`;
}
