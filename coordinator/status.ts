/**
 * Run status: counts by status (the sparse status index counts non-done items; done = planned -
 * the rest), failures by error class, and the counters' bytes/objects.
 * The per-status counts are separate index queries, so an item that changes status while they run
 * can be missed by both (leased -> retrying between the two; on AWS the index also lags): while
 * workers are busy, `done` may read a little high for a moment.
 * Read-only: the run's state is what the write path made it (state/run-lifecycle.ts); a status
 * read never finishes a run.
 */
import type { ConvoyContext } from '../shared/context.js';
import { InputError } from '../shared/errors.js';
import { retryPolicyOf, type RetryPolicy } from '../shared/retry-policy.js';
import { readCounterTotals, reconcileTotals, type Counters } from '../state/counters.js';
import { countByStatus, itemsByStatus } from '../state/item-bulk.js';
import type { ItemStatus } from '../state/item-row.js';
import { getRun, type RunRow } from '../state/runs.js';
import { formatSettings, pauseAdvice, rateLimitsOf, runSettings, type RunSettingsView } from './run-settings.js';

export interface RunStatus {
  run: RunRow;
  counts: Record<ItemStatus, number>;
  total: number;
  failuresByClass: Record<string, number>;
  counters: Counters;
  settings: RunSettingsView;
  /** why the run paused itself and what to do; absent when it did not */
  pauseAdvice?: string;
}

export async function runStatus(ctx: ConvoyContext, runId: string): Promise<RunStatus> {
  const run = await getRun(ctx.meta, runId);
  if (!run) throw new InputError(`run "${runId}" not found; list runs with \`convoy status\``);
  const [[pending, leased, retrying, failed], totals] = await Promise.all([
    countActive(ctx, runId),
    readCounterTotals(ctx.meta, runId),
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
  const settings = runSettings(run, rateLimitsOf(ctx, run.kind));
  return {
    run,
    counts: { pending, leased, retrying, done, failed },
    total,
    failuresByClass,
    counters,
    settings,
    ...(pauseAdvice(run) ? { pauseAdvice: pauseAdvice(run) } : {}),
  };
}

function countActive(ctx: ConvoyContext, runId: string): Promise<number[]> {
  return Promise.all(
    (['pending', 'leased', 'retrying', 'failed'] as ItemStatus[]).map((s) => countByStatus(ctx.items, runId, s)),
  );
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
  const classes = Object.entries(s.failuresByClass).sort((a, b) => b[1] - a[1]);
  if (classes.length) {
    lines.push('failures by class:');
    for (const [c, n] of classes) lines.push(`  ${c.padEnd(28)} ${n}`);
  }
  return lines.join('\n');
}
