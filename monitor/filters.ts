/**
 * Pure helpers for the monitor's item views: which group an item belongs to, whether an item
 * is stuck, and grouping a page of failures by class.
 *
 * Groups: an item's `group` names what it belongs to. Job kinds that have customers and spaces
 * (uploads) write it as `<customer>/<space>`; others write one name (a bucket pair, a table),
 * which `--customer` matches as a whole.
 */
import type { ItemSummaryRow } from '../state/views.js';

export interface GroupFilter {
  customer?: string;
  space?: string;
}

export function parseGroup(group: string): { customer: string; space?: string } {
  const slash = group.indexOf('/');
  return slash < 0 ? { customer: group } : { customer: group.slice(0, slash), space: group.slice(slash + 1) };
}

export function groupMatcher(f: GroupFilter): ((group: string | undefined) => boolean) | undefined {
  if (f.customer === undefined && f.space === undefined) return undefined;
  return (group) => {
    if (group === undefined) return false;
    const g = parseGroup(group);
    return (
      (f.customer === undefined || g.customer === f.customer) &&
      (f.space === undefined || g.space === f.space || (g.space === undefined && g.customer === f.space))
    );
  };
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
