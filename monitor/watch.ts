/**
 * `convoy monitor --watch`: refresh every interval until `q` (or SIGINT/SIGTERM).
 * On a terminal it draws the dashboard; otherwise it prints one summary line per interval.
 * It never exits on a transient error: a failed refresh (state service down, throttling, a
 * timeout) is shown in the status line and the next refresh tries again, keeping the last good
 * data on screen. Refreshes never overlap: a slow one delays the next.
 */
import type { ConvoyContext } from '../shared/context.js';
import { classifyError, ConvoyError } from '../shared/errors.js';
import { sleep } from '../shared/sleep.js';
import { dashboardModel, statusLine } from './dashboard-model.js';
import { runsToFollow } from './fleet.js';
import type { StuckItem } from './filters.js';
import { SnapshotReader, type RunSnapshot, type SnapshotOptions } from './snapshot.js';
import { formatSummaryLine } from './summary.js';
import { readStuckItems } from './views.js';

export interface WatchOptions {
  /**
   * run to show. When absent, the runs are looked up on every refresh: lines are printed for
   * every active run, the dashboard shows the newest active run (the newest run when none is
   * active) and names the others, so a watch started before `convoy plan` follows the new run.
   */
  runId?: string;
  /** @defaultValue 2000 */
  intervalMs?: number;
  /** a refresh that takes longer than this counts as failed. @defaultValue max(10 s, 5 intervals) */
  refreshTimeoutMs?: number;
  /** @defaultValue 300000 */
  stuckAfterMs?: number;
  snapshot?: SnapshotOptions;
  /** draw the dashboard (true) or print lines (false). @defaultValue process.stdout.isTTY */
  tty?: boolean;
  out?: NodeJS.WritableStream;
  /** stop after this many refreshes (tests); 0 = until quit. @defaultValue 0 */
  maxRefreshes?: number;
}

export async function watch(ctx: ConvoyContext, opts: WatchOptions = {}): Promise<void> {
  const intervalMs = opts.intervalMs ?? 2_000;
  const timeoutMs = opts.refreshTimeoutMs ?? Math.max(10_000, intervalMs * 5);
  const stuckAfterMs = opts.stuckAfterMs ?? 300_000;
  const out = opts.out ?? process.stdout;
  const tty = opts.tty ?? Boolean(process.stdout.isTTY);
  const reader = new SnapshotReader(ctx, { staleAfterMs: 30_000, ...opts.snapshot });
  const stop = new AbortController();
  const quit = () => stop.abort();
  const { Dashboard } = tty ? await import('./dashboard.js') : { Dashboard: undefined };
  const ui = Dashboard ? new Dashboard({ onQuit: quit }) : undefined;
  const onSignal = () => quit();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  // A closed pipe (`convoy monitor --watch | head`) ends the watch instead of crashing it.
  const onOutError = () => quit();
  if (!ui) out.on('error', onOutError);

  let lastOkAtMs: number | null = null;
  let inFlight: Promise<{ snaps: RunSnapshot[]; stuck: StuckItem[] }> | undefined;
  try {
    for (let n = 0; !stop.signal.aborted && (!opts.maxRefreshes || n < opts.maxRefreshes); n++) {
      const started = Date.now();
      try {
        // A refresh still running from last time (a hung connection) is awaited, not doubled.
        inFlight ??= (async () => {
          const ids = opts.runId ? [opts.runId] : (await runsToFollow(ctx)).runs.map((r) => r.runId);
          if (!ids.length)
            throw new ConvoyError('NO_RUN', 'no runs yet; waiting for `convoy plan`', { retryable: true });
          const snaps = await Promise.all(ids.map((id) => reader.read(id)));
          const stuck = ui ? await readStuckItems(ctx, ids[0]!, { stuckAfterMs, limit: 50 }) : [];
          return { snaps, stuck };
        })().finally(() => (inFlight = undefined));
        const { snaps, stuck } = await withTimeout(inFlight, timeoutMs);
        const snap = snaps[0]!;
        lastOkAtMs = Date.now();
        const refreshMs = lastOkAtMs - started;
        if (ui) {
          ui.update(dashboardModel(snap, stuck, snaps.slice(1)));
          ui.setStatus(
            statusLine({ lastOkAtMs, refreshMs, error: snap.warnings[0] ?? null, nowMs: lastOkAtMs, intervalMs }),
            snap.warnings.length > 0,
          );
        } else {
          for (const s of snaps)
            out.write(
              formatSummaryLine(s) +
                (s.warnings.length ? ` warning=${JSON.stringify(s.warnings.join('; '))}` : '') +
                '\n',
            );
        }
      } catch (err) {
        const message = describe(err);
        ctx.log.debug({ err: message }, 'monitor refresh failed');
        if (ui)
          ui.setStatus(
            statusLine({ lastOkAtMs, refreshMs: null, error: message, nowMs: Date.now(), intervalMs }),
            true,
          );
        else out.write(`${new Date().toISOString()} error=${JSON.stringify(message)} retrying\n`);
      }
      await sleep(Math.max(0, intervalMs - (Date.now() - started)), stop.signal);
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    out.off('error', onOutError);
    ui?.destroy();
    await reader.settle();
  }
}

function describe(err: unknown): string {
  const e = err instanceof ConvoyError ? err : classifyError(err);
  return `${e.errorClass}: ${e.message || '(no message)'}`;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new ConvoyError('TIMEOUT', `refresh took longer than ${ms} ms`, { retryable: true })),
      ms,
    );
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
