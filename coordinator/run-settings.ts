/**
 * What `status`, the monitor and the API say about a run's live settings and, when it paused
 * itself, why and what to do. Pure: computed from the run row (and the kind's declared rate
 * limits, whose planned values are in the spec), never written.
 */
import { describeMaxFailed } from '../shared/failure-tolerance.js';
import { effectiveLimit, maxFailedOf, RATE_LIMITS, type RateLimitName } from '../state/run-tuning.js';
import type { RunRow } from '../state/runs.js';
import type { ConvoyContext } from '../shared/context.js';
import type { EngineContext } from '../worker/job-kind.js';

/** The rate limits a run's kind declares, when the context knows the kinds (the CLI's and the API's do). */
export function rateLimitsOf(ctx: ConvoyContext, kind: string): Partial<Record<RateLimitName, string>> | undefined {
  return (ctx as Partial<EngineContext>).kinds?.plugins.find((p) => p.name === kind)?.rateLimits;
}

/** The kind's one-line summary of the run's spec options (KindPlugin.describeSpec), when it has one. */
export function specSummaryOf(ctx: ConvoyContext, run: RunRow): string | undefined {
  const plugin = (ctx as Partial<EngineContext>).kinds?.plugins.find((p) => p.name === run.kind);
  try {
    return plugin?.describeSpec?.(run.spec);
  } catch {
    return undefined; // a spec the summary does not understand is not worth failing a status read
  }
}

export interface RunSettingView {
  value: number | string | null;
  /** tuned: `convoy tune` set it; planned: as planned; off: tuned off; none: never set */
  source: 'tuned' | 'planned' | 'off' | 'none';
}

export interface RunSettingsView {
  concurrency: RunSettingView;
  maxFailed: RunSettingView;
  /** only the limits the run's kind honours */
  bwlimit?: RunSettingView;
  tpslimit?: RunSettingView;
  tuneVersion: number;
  /** planned options of the run's kind (s3-sync: tags, storage class, encryption, ACL) */
  options?: string;
}

export function runSettings(
  run: RunRow,
  rateLimits: Partial<Record<RateLimitName, string>> = {},
  options?: string,
): RunSettingsView {
  const t = run.tuning ?? {};
  const planned = run.retry?.maxFailed;
  const mf = maxFailedOf(run);
  const view: RunSettingsView = {
    concurrency: t.concurrency ? { value: t.concurrency, source: 'tuned' } : { value: null, source: 'none' },
    maxFailed: {
      value: mf ? describeMaxFailed(mf) : null,
      source: t.maxFailed === null ? 'off' : t.maxFailed ? 'tuned' : planned ? 'planned' : 'none',
    },
    tuneVersion: run.tuneVersion ?? 0,
    ...(options ? { options } : {}),
  };
  for (const name of RATE_LIMITS) {
    const field = rateLimits[name];
    if (!field) continue;
    const p = run.spec[field] as number | undefined;
    const v = effectiveLimit(t[name], p);
    view[name] = {
      value: v ?? null,
      source: t[name] === null ? 'off' : t[name] !== undefined ? 'tuned' : p !== undefined ? 'planned' : 'none',
    };
  }
  return view;
}

const fmt = (name: string, s: RunSettingView) => {
  if (s.value === null) return `${name} ${s.source === 'off' ? 'off (tuned)' : 'none'}`;
  const v = name === 'bwlimit' ? `${formatRate(Number(s.value))}` : name === 'tpslimit' ? `${s.value}/s` : `${s.value}`;
  return `${name} ${v} (${s.source})`;
};

function formatRate(bytesPerSecond: number): string {
  const mib = bytesPerSecond / 1024 ** 2;
  return mib >= 1 ? `${+mib.toFixed(2)} MiB/s` : `${+(bytesPerSecond / 1024).toFixed(2)} KiB/s`;
}

/** `settings: concurrency 4 (tuned), bwlimit 2 MiB/s (planned), tpslimit none, max-failed 10 (planned)` */
export function formatSettings(v: RunSettingsView): string {
  const parts = [fmt('concurrency', v.concurrency)];
  if (v.bwlimit) parts.push(fmt('bwlimit', v.bwlimit));
  if (v.tpslimit) parts.push(fmt('tpslimit', v.tpslimit));
  parts.push(fmt('max-failed', v.maxFailed));
  const options = v.options ? `\noptions: ${v.options}` : '';
  return `settings: ${parts.join(', ')}${v.tuneVersion ? ` [tuned ${v.tuneVersion} time(s)]` : ''}${options}`;
}

/** Why a run paused itself and what to do, or undefined when it did not. */
export function pauseAdvice(run: RunRow): string | undefined {
  const r = run.pauseReason;
  if (run.state !== 'paused' || !r) return undefined;
  const id = run.runId;
  return (
    `paused by itself: ${r.failed} item(s) failed, more than --max-failed ${describeMaxFailed(r.maxFailed)} allows (${r.allowed}). ` +
    `To go on: fix the cause, then \`convoy requeue --run ${id}\` and \`convoy resume --run ${id}\`; ` +
    `or raise the limit with \`convoy tune --run ${id} --max-failed N\` and \`convoy resume --run ${id}\` ` +
    `(list the failures with \`convoy monitor --run ${id} --failed\`, all of them with \`convoy report --run ${id} --failed-only\`)`
  );
}
