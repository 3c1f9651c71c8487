/**
 * `convoy tune --run R [--concurrency N] [--bwlimit X] [--tpslimit Y] [--max-failed N|P%]` and
 * `POST /runs/:id/tune`: change a running run's settings (state/run-tuning.ts). Both parse their
 * input here, so the CLI and the API refuse the same values with the same words (exit 2 / 400),
 * before anything is written. `off` removes a limit (the planned one too).
 *
 * The write is one conditional write at the version read just before; a concurrent tune makes it
 * read again and re-apply (at most a few times). After a lower --max-failed, the run is checked at
 * once (the write path that pauses a run past its limit, state/run-lifecycle.ts).
 */
import type { ConvoyContext } from '../shared/context.js';
import { InputError } from '../shared/errors.js';
import { parseMaxFailed } from '../shared/failure-tolerance.js';
import { sizeInBytes } from '../shared/size.js';
import { pauseIfTooManyFailed } from '../state/run-lifecycle.js';
import { TUNING_FIELDS, writeTuning, type RateLimitName, type RunTuning } from '../state/run-tuning.js';
import { getRun, type RunRow } from '../state/runs.js';

/** What an operator typed (CLI strings, or JSON values from the API). */
export interface TuneInput {
  concurrency?: string | number;
  bwlimit?: string | number;
  tpslimit?: string | number;
  maxFailed?: string | number;
}

const OFF = 'off';

/** Parse a tune's input; an InputError names the flag. At least one setting is needed. */
export function parseTuneInput(raw: TuneInput): RunTuning {
  const out: RunTuning = {};
  const text = (v: string | number) => String(v).trim();
  if (raw.concurrency !== undefined) {
    const t = text(raw.concurrency);
    const n = Number(t);
    if (t === OFF) out.concurrency = null;
    else if (!/^\d+$/.test(t) || n < 1 || n > 100_000)
      throw new InputError(
        `--concurrency: "${t}" is not a number of items from 1 to 100000 (the run's items in flight across the fleet), or off`,
      );
    else out.concurrency = n;
  }
  if (raw.bwlimit !== undefined) {
    const t = text(raw.bwlimit);
    const n = t === OFF ? null : sizeInBytes(t);
    if (n === undefined || (n !== null && n < 1))
      throw new InputError(
        `--bwlimit: "${t}" is no rate; give bytes per second for the whole fleet (e.g. --bwlimit 50MiB), or off`,
      );
    out.bwlimit = n;
  }
  if (raw.tpslimit !== undefined) {
    const t = text(raw.tpslimit);
    const n = t === OFF ? null : Number(t);
    if (n !== null && (t === '' || !Number.isFinite(n) || n <= 0))
      throw new InputError(
        `--tpslimit: "${t}" is not a positive number of objects per second for the whole fleet (e.g. --tpslimit 200), or off`,
      );
    out.tpslimit = n;
  }
  if (raw.maxFailed !== undefined) {
    const t = text(raw.maxFailed);
    if (t === OFF) out.maxFailed = null;
    else {
      const r = parseMaxFailed(t);
      if ('problem' in r) throw new InputError(r.problem);
      out.maxFailed = r.value;
    }
  }
  if (!Object.keys(out).length)
    throw new InputError('nothing to tune: give --concurrency, --bwlimit, --tpslimit or --max-failed');
  return out;
}

export interface TuneResult {
  runId: string;
  state: RunRow['state'];
  tuneVersion: number;
  tuning: RunTuning;
  changes: Partial<Record<string, { from: unknown; to: unknown }>>;
  /** the lower --max-failed paused the run at once */
  paused?: boolean;
}

/**
 * Apply `changes` to the run. `rateLimitsOf`: the limits a kind honours (KindPlugin `rateLimits`);
 * tuning another one is refused, since nothing would apply it.
 */
export async function tuneRun(
  ctx: ConvoyContext,
  runId: string,
  changes: RunTuning,
  rateLimitsOf: (kind: string) => Partial<Record<RateLimitName, string>> | undefined,
  by?: string,
): Promise<TuneResult> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const run = await getRun(ctx.meta, runId);
    if (!run) throw new InputError(`run "${runId}" not found (list runs with \`convoy status\`)`);
    const rateLimits = rateLimitsOf(run.kind);
    for (const name of ['bwlimit', 'tpslimit'] as const)
      if (changes[name] !== undefined && !rateLimits?.[name])
        throw new InputError(
          `--${name}: runs of kind ${run.kind} have no ${name === 'bwlimit' ? 'byte' : 'object'} rate limit to tune` +
            ` (tunable: --concurrency, --max-failed${Object.keys(rateLimits ?? {})
              .map((n) => `, --${n}`)
              .join('')})`,
        );
    if (run.state === 'cancelled' || run.state === 'failed')
      throw new InputError(
        `run ${runId} is ${run.state}: there is nothing to tune${run.state === 'failed' ? ' (plan it again)' : ' (a cancelled run is final)'}`,
      );
    const before = run.tuning ?? {};
    const tuning: RunTuning = { ...before, ...changes };
    const diff: TuneResult['changes'] = {};
    // from: the value in force before (tuned, else planned, else 'none')
    const planned: Record<string, unknown> = {
      maxFailed: run.retry?.maxFailed,
      bwlimit: rateLimits?.bwlimit ? run.spec[rateLimits.bwlimit] : undefined,
      tpslimit: rateLimits?.tpslimit ? run.spec[rateLimits.tpslimit] : undefined,
    };
    for (const f of TUNING_FIELDS)
      if (changes[f] !== undefined && JSON.stringify(before[f]) !== JSON.stringify(changes[f]))
        diff[f] = { from: before[f] !== undefined ? before[f] : (planned[f] ?? 'none'), to: changes[f] };
    const version = run.tuneVersion ?? 0;
    if (await writeTuning(ctx.meta, runId, tuning, version, { changes: diff, ...(by ? { by } : {}) })) {
      ctx.log.info({ runId, changes: diff }, 'run tuned');
      const result: TuneResult = { runId, state: run.state, tuneVersion: version + 1, tuning, changes: diff };
      if (changes.maxFailed !== undefined) {
        const check = await pauseIfTooManyFailed(ctx.meta, ctx.items, runId);
        if (check.outcome === 'paused') return { ...result, state: 'paused', paused: true };
      }
      return result;
    }
  }
  throw new InputError(
    `run ${runId} kept changing while we tried to tune it; look at \`convoy status --run ${runId}\` and try again`,
  );
}
