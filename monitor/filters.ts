/**
 * Pure helpers for the monitor's item views: which group an item belongs to, whether an item
 * is stuck, and grouping a page of failures by class.
 *
 * Groups: an item's `group` names what it belongs to, in parts joined by '/'. The run's kind
 * names the parts (`KindPlugin.groupParts`, e.g. the uploads kind's customer and space); a kind
 * that names none has one part, `group`. The names come in as input: nothing here knows a kind.
 * A filter gives values by part name (`{customer: 'c1'}`, matched part by part) and/or `group`,
 * which matches a whole group or a '/'-prefix of one, whatever the kind.
 */
import { InputError } from '../shared/errors.js';
import type { ItemSummaryRow } from '../state/views.js';

/** The filter on a whole group (`--group`, `?group=`), and the one part of a kind that names none. */
export const WHOLE_GROUP = 'group';

/** Values to match, by part name; `group`: the whole group or a '/'-prefix of it. */
export type GroupFilter = Readonly<Record<string, string | undefined>>;

/** The part names of a kind's groups: what it declares, or one part, `group`. */
export function groupParts(declared: readonly string[] | undefined): readonly string[] {
  return declared?.length ? declared : [WHOLE_GROUP];
}

/**
 * An item's group by part name: split at '/', the last part keeping any further '/'. A group
 * with fewer parts lacks the later ones (an uploads group `c1` is a customer's, with no space).
 */
export function parseGroup(group: string, parts: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  let rest = group;
  for (const [i, name] of parts.entries()) {
    const slash = i === parts.length - 1 ? -1 : rest.indexOf('/');
    if (slash < 0) {
      out[name] = rest;
      break;
    }
    out[name] = rest.slice(0, slash);
    rest = rest.slice(slash + 1);
  }
  return out;
}

/** The names a filter gives a value for, in the order of `parts`, `group` last. */
function given(f: GroupFilter, parts: readonly string[]): string[] {
  const names = Object.keys(f).filter((k) => f[k] !== undefined);
  const unknown = unknownParts(f, parts);
  if (unknown.length)
    throw new InputError(
      `${unknown.map((u) => `"${u}"`).join(', ')} ${unknown.length > 1 ? 'are not group parts' : 'is not a group part'}; the parts are ${parts.join(', ')}`,
    );
  return [
    ...parts.filter((p) => names.includes(p)),
    ...(names.includes(WHOLE_GROUP) && !parts.includes(WHOLE_GROUP) ? [WHOLE_GROUP] : []),
  ];
}

/** The names a filter gives a value for that are neither one of `parts` nor `group`. */
export function unknownParts(f: GroupFilter, parts: readonly string[]): string[] {
  return Object.keys(f).filter((k) => f[k] !== undefined && k !== WHOLE_GROUP && !parts.includes(k));
}

const underOrEqual = (group: string, prefix: string) => group === prefix || group.startsWith(`${prefix}/`);

/** A predicate on an item's group, or undefined when the filter gives nothing. */
export function groupMatcher(
  f: GroupFilter,
  parts: readonly string[],
): ((group: string | undefined) => boolean) | undefined {
  const names = given(f, parts);
  if (!names.length) return undefined;
  return (group) => {
    if (group === undefined) return false;
    const g = parseGroup(group, parts);
    return names.every((n) => (n === WHOLE_GROUP ? underOrEqual(group, f[n]!) : g[n] === f[n]));
  };
}

/**
 * What every matching group starts with (for a key-range read of the group counters), or
 * undefined: the leading parts the filter gives, joined, or its `group`, the longer of the two.
 */
export function groupPrefix(f: GroupFilter, parts: readonly string[]): string | undefined {
  const leading: string[] = [];
  for (const p of parts) {
    if (p === WHOLE_GROUP || f[p] === undefined) break;
    leading.push(f[p]!);
  }
  const candidates = [leading.join('/'), f[WHOLE_GROUP] ?? ''].filter(Boolean);
  return candidates.sort((a, b) => b.length - a.length)[0];
}

/** How a filter reads, e.g. "customer c1, space s2" (in the parts' order, `group` last). */
export function describeFilter(f: GroupFilter, parts: readonly string[]): string {
  return given(f, parts)
    .map((n) => `${n} ${f[n]}`)
    .join(', ');
}

/** `in-dlq`: unfinished, but its message sits in the DLQ, so no worker will see it (`convoy reconcile` or `requeue` redrives it). */
export type StuckReason = 'lease-expired' | 'running-long' | 'retry-overdue' | 'in-dlq';

export interface StuckItem extends ItemSummaryRow {
  reason: StuckReason;
  /** how long it has been in that condition */
  forMs: number;
}

/**
 * Why an unfinished item is stuck, or undefined:
 *  - lease-expired: leased, but the lease ran out (its worker died or hangs; a redelivery or
 *    `convoy reconcile` hands it to another worker),
 *  - running-long: leased and renewed, but started more than `stuckAfterMs` ago (no completion),
 *  - retry-overdue: retrying, and its next attempt is more than `stuckAfterMs` late (the message
 *    was probably lost; `convoy reconcile` re-sends it).
 */
export function classifyStuck(row: ItemSummaryRow, nowMs: number, stuckAfterMs: number): StuckItem | undefined {
  if (row.status === 'leased') {
    if (row.leaseExpiresAtMs !== undefined && row.leaseExpiresAtMs < nowMs)
      return { ...row, reason: 'lease-expired', forMs: nowMs - row.leaseExpiresAtMs };
    const since = row.startedAtMs ?? row.updatedAtMs;
    if (nowMs - since > stuckAfterMs) return { ...row, reason: 'running-long', forMs: nowMs - since };
  }
  if (row.status === 'retrying' && row.nextAttemptAtMs !== undefined && nowMs - row.nextAttemptAtMs > stuckAfterMs) {
    return { ...row, reason: 'retry-overdue', forMs: nowMs - row.nextAttemptAtMs };
  }
  return undefined;
}

/** A page of failed items grouped by error class, classes in descending size. */
export function groupByClass(items: ItemSummaryRow[]): Array<{ errorClass: string; items: ItemSummaryRow[] }> {
  const groups = new Map<string, ItemSummaryRow[]>();
  for (const item of items) {
    const c = item.lastError?.errorClass ?? 'UNKNOWN';
    groups.set(c, [...(groups.get(c) ?? []), item]);
  }
  return [...groups.entries()]
    .map(([errorClass, list]) => ({ errorClass, items: list }))
    .sort((a, b) => b.items.length - a.items.length || a.errorClass.localeCompare(b.errorClass));
}
