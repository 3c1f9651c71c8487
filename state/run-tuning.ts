/**
 * Live tuning of a run (`convoy tune`, `POST /runs/:id/tune`), like Step Functions' UpdateMapRun:
 * the run row holds the operator's overrides (`tuning`), a version that every tune moves on, and
 * the run's history (`runHistory`, which the lifecycle's transitions append to as well). A tune is
 * ONE conditional write: the run must still be in a state that works items (or `done`, so a
 * limit can be raised before a requeue) and at the version the caller read, so two operators
 * tuning at once cannot lose each other's change silently (the second reads again and re-applies).
 *
 * How a setting reaches the fleet: every worker re-reads the run row within RUN_STATE_TTL_MS
 * (worker/run-cache.ts) and applies what it finds (worker/run-slots.ts for --concurrency,
 * worker/budget/run-budget.ts for the rate limits, worker/failure-guard.ts for --max-failed).
 * A value of `null` is an explicit "off": it removes the limit the run was planned with.
 */
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { MaxFailed } from '../shared/failure-tolerance.js';
import { isConditionFailure } from './conditions.js';
import { metaKeys } from './schema.js';
import { nowOf, type TableStore } from './store.js';

/** The fleet-wide rate limits a kind may honour and an operator may tune. */
export const RATE_LIMITS = ['bwlimit', 'tpslimit'] as const;
export type RateLimitName = (typeof RATE_LIMITS)[number];

/** The operator's overrides; absent: as planned; null: off. */
export interface RunTuning {
  /** items of the run in flight across the fleet (split across its live workers) */
  concurrency?: number | null;
  /** bytes per second, fleet-wide */
  bwlimit?: number | null;
  /** objects per second, fleet-wide */
  tpslimit?: number | null;
  maxFailed?: MaxFailed | null;
}
export const TUNING_FIELDS = ['concurrency', 'bwlimit', 'tpslimit', 'maxFailed'] as const;
export type TuningField = (typeof TUNING_FIELDS)[number];

/** Why a run paused itself (set by the lifecycle's `failLimit`, removed by resume, pause and cancel). */
export interface PauseReason {
  cause: 'max-failed';
  failed: number;
  allowed: number;
  maxFailed: MaxFailed;
  atMs: number;
}

/** One entry of a run's history: a lifecycle transition or a tune. */
export interface RunHistoryEntry {
  atMs: number;
  event: string;
  /** a tune: each changed setting, from -> to (undefined: as planned, null: off) */
  changes?: Partial<Record<TuningField, { from: unknown; to: unknown }>>;
  detail?: string;
  by?: string;
}

/** The history append, for any update of the run row. */
export function historyAppend(entry: RunHistoryEntry) {
  return {
    expr: 'runHistory = list_append(if_not_exists(runHistory, :noHistory), :hist)',
    values: { ':noHistory': [], ':hist': [entry] },
  };
}

/** The states in which a run can be tuned. */
export const TUNABLE_STATES = ['planning', 'running', 'paused', 'done'] as const;

/**
 * Write `tuning` (the whole merged map) as version `fromVersion + 1`, conditional on the run being
 * tunable and still at `fromVersion`. False when the condition fails: read the row again.
 */
export async function writeTuning(
  s: TableStore,
  runId: string,
  tuning: RunTuning,
  fromVersion: number,
  entry: Omit<RunHistoryEntry, 'atMs' | 'event'>,
): Promise<boolean> {
  const now = nowOf(s);
  const h = historyAppend({ atMs: now, event: 'tuned', ...entry });
  const states = Object.fromEntries(TUNABLE_STATES.map((st, i) => [`:s${i}`, st]));
  try {
    await s.ddb.send(
      new UpdateCommand({
        TableName: s.table,
        Key: metaKeys.run(runId),
        UpdateExpression: `SET tuning = :tuning, tuneVersion = :next, updatedAtMs = :now, ${h.expr}`,
        ConditionExpression:
          `attribute_exists(pk) AND #st IN (${Object.keys(states).join(', ')}) AND ` +
          (fromVersion === 0 ? '(attribute_not_exists(tuneVersion) OR tuneVersion = :from)' : 'tuneVersion = :from'),
        ExpressionAttributeNames: { '#st': 'state' },
        ExpressionAttributeValues: {
          ':tuning': stripUndefined(tuning),
          ':next': fromVersion + 1,
          ':from': fromVersion,
          ':now': now,
          ...states,
          ...h.values,
        },
      }),
    );
    return true;
  } catch (err) {
    if (isConditionFailure(err)) return false;
    throw err;
  }
}

function stripUndefined(t: RunTuning): Record<string, unknown> {
  return Object.fromEntries(Object.entries(t).filter(([, v]) => v !== undefined));
}

/** A limit as it applies now: the operator's override (null: off) or, without one, the planned value. */
export function effectiveLimit<T>(tuned: T | null | undefined, planned: T | undefined): T | undefined {
  if (tuned === undefined) return planned;
  return tuned ?? undefined;
}

/** The run's failure tolerance now: tuned, else planned (with the retry policy), else none. */
export function maxFailedOf(run: { tuning?: RunTuning; retry?: { maxFailed?: MaxFailed } }): MaxFailed | undefined {
  return effectiveLimit(run.tuning?.maxFailed, run.retry?.maxFailed);
}
