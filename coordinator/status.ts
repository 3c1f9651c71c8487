/**
 * Run status: counts by status (the items the sparse status index lists, re-read from the table
 * and counted where they really are: state/status-index.ts; done = planned - the rest), failures
 * by error class, and the counters' bytes/objects.
 * An item whose index entry lags behind a status change is still counted where it is; one that
 * the index does not list at all yet (planned within the index's lag, on AWS) reads as done for
 * that moment.
 * Read-only: the run's state is what the write path made it (state/run-lifecycle.ts); a status
 * read never finishes a run.
 */
import type { ConvoyContext } from '../shared/context.js';
import { InputError } from '../shared/errors.js';
import { retryPolicyOf, type RetryPolicy } from '../shared/retry-policy.js';
import { readCounterTotals, reconcileTotals, type Counters } from '../state/counters.js';
import { describeFleetRate, readFleetRates, type FleetRateRow } from '../state/fleet-rates.js';
import { countsByStatus, itemsByStatus } from '../state/status-index.js';
import type { ItemStatus } from '../state/item-row.js';
import { getRun, type RunRow } from '../state/runs.js';
import {
  formatSettings,
  pauseAdvice,
  rateLimitsOf,
  runSettings,
  specSummaryOf,
  type RunSettingsView,
} from './run-settings.js';

export interface RunStatus {
  run: RunRow;
  counts: Record<ItemStatus, number>;
  total: number;
  failuresByClass: Record<string, number>;
  counters: Counters;
  /** adaptive rate control: the fleet's rate for each destination that has throttled */
  rates: FleetRateRow[];
  settings: RunSettingsView;
  /** why the run paused itself and what to do; absent when it did not */
  pauseAdvice?: string;
}

export async function runStatus(ctx: ConvoyContext, runId: string): Promise<RunStatus> {
  const run = await getRun(ctx.meta, runId);
  if (!run) throw new InputError(`run "${runId}" not found; list runs with \`convoy status\``);
  const [{ pending, leased, retrying, failed }, totals, rates] = await Promise.all([
    countsByStatus(ctx.items, runId, ['pending', 'leased', 'retrying', 'failed']),
    readCounterTotals(ctx.meta, runId),
    readFleetRates(ctx.meta, runId),
  ]);
  const total = run.plannedItems;
  const done = Math.max(0, total - pending - leased - retrying - failed);
  const failuresByClass: Record<string, number> = {};
  if (failed > 0) {
    for await (const page of itemsByStatus(ctx.items, runId, 'failed')) {
      for (const item of page) {
        const c = item.lastError?.errorClass ?? 'UNKNOWN';
        failuresByClass[c] = (failuresByClass[c] ?? 0) + 1;
      }
    }
  }
  // counters lose a killed worker's last seconds: a finished run's totals come from its item rows
  const exact = { done, failed, unfinished: pending + leased + retrying };
  const { counters } = await reconcileTotals(ctx.items, runId, totals.total, exact);
  const settings = runSettings(run, rateLimitsOf(ctx, run.kind), specSummaryOf(ctx, run));
  return {
    run,
    counts: { pending, leased, retrying, done, failed },
    total,
    failuresByClass,
    counters,
    rates: [...rates.values()],
    settings,
    ...(pauseAdvice(run) ? { pauseAdvice: pauseAdvice(run) } : {}),
  };
}

/** `5 attempts, backoff 2s..5m (full jitter)`: the run's policy as the status line shows it. */
export function describeRetryPolicy(p: RetryPolicy): string {
  const dur = (ms: number) =>
    ms % 60_000 === 0 && ms > 0 ? `${ms / 60_000}m` : ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
  return `${p.maxAttempts} attempt(s), backoff ${dur(p.backoffBaseMs)}..${dur(p.backoffCapMs)} (full jitter)`;
}

export function formatStatus(s: RunStatus): string {
  const pct = (n: number) => (s.total ? ((100 * n) / s.total).toFixed(1) : '0.0');
  const lines = [
    `run ${s.run.runId} (${s.run.kind}) state=${s.run.state}${s.run.planComplete ? '' : ' (planning)'}`,
    `items: ${s.total}`,
    ...(['done', 'pending', 'leased', 'retrying', 'failed'] as const).map(
      (k) => `  ${k.padEnd(9)} ${String(s.counts[k]).padStart(8)}  ${pct(s.counts[k]).padStart(5)}%`,
    ),
    `bytes: ${s.counters.bytes}  objects: ${s.counters.objects}  skipped: ${s.counters.skipped}  retries: ${s.counters.retries}`,
    `retry policy: ${describeRetryPolicy(retryPolicyOf(s.run))}`,
    formatSettings(s.settings),
    ...(s.pauseAdvice ? [s.pauseAdvice] : []),
  ];
  for (const r of s.rates) lines.push(describeFleetRate(r));
  const classes = Object.entries(s.failuresByClass).sort((a, b) => b[1] - a[1]);
  if (classes.length) {
    lines.push('failures by class:');
    for (const [c, n] of classes) lines.push(`  ${c.padEnd(28)} ${n}`);
  }
  return lines.join('\n');
}
