/**
 * A run's failure tolerance (`convoy plan <kind> --max-failed N|P%`, tunable with `convoy tune`):
 * how many items may end `failed` before the run pauses itself, like S3 Batch Operations'
 * failure threshold or Step Functions' ToleratedFailureCount/Percentage. A count is absolute; a
 * percentage is of the items planned so far (a run the fleet expands grows, and its limit with it).
 * The run pauses when the failed items pass the limit (failed > limit): `--max-failed 0` pauses at
 * the first failure. Requeued items are no longer failed, so a requeue makes room again.
 */
import * as z from 'zod';

export const maxFailedSchema = z.union([
  z.object({ count: z.number().int().min(0) }).strict(),
  z.object({ percent: z.number().min(0).max(100) }).strict(),
]);
export type MaxFailed = z.infer<typeof maxFailedSchema>;

/** `12` or `2.5%`; a problem (naming `flag`) when the text is neither. */
export function parseMaxFailed(text: string, flag = '--max-failed'): { value: MaxFailed } | { problem: string } {
  const t = text.trim();
  const pct = /^(\d+(?:\.\d+)?)%$/.exec(t);
  if (pct) {
    const percent = Number(pct[1]);
    if (percent > 100) return { problem: `${flag}: "${text}" is more than 100% of the run's items` };
    return { value: { percent } };
  }
  if (/^\d+$/.test(t)) return { value: { count: Number(t) } };
  return {
    problem: `${flag}: "${text}" is neither a number of items (e.g. 100) nor a percentage of the run's items (e.g. 2%)`,
  };
}

/** How many failed items the run tolerates with `planned` items planned so far. */
export function failedItemsAllowed(m: MaxFailed, planned: number): number {
  return 'count' in m ? m.count : Math.floor((m.percent / 100) * planned);
}

export function describeMaxFailed(m: MaxFailed): string {
  return 'count' in m ? `${m.count}` : `${m.percent}%`;
}
