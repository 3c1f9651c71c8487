/**
 * The monitor's detail views: failed items (paged, grouped by class), stuck items, workers per
 * instance, and per-group progress (`--group` and the run's kind's part options, such as the
 * uploads kind's `--customer` / `--space`). Each one reads a bounded set: the failed / leased /
 * retrying parts of the status index, heartbeat rows, or group counters. A group filter comes
 * with the part names of the run's kind (monitor/filters.ts); without them only `group` applies.
 */
import type { ConvoyContext } from '../shared/context.js';
import { errorClassInfo } from '../shared/error-classes.js';
import { emptyCounters, type Counters } from '../state/counters.js';
import { getItem } from '../state/items.js';
import {
  failedSetSummary,
  forEachItemSummary,
  itemPageByStatus,
  readGroupCounters,
  toItemSummary,
  type ItemSummaryRow,
} from '../state/views.js';
import {
  classifyStuck,
  describeFilter,
  groupByClass,
  groupMatcher,
  groupPrefix,
  parseGroup,
  WHOLE_GROUP,
  type GroupFilter,
  type StuckItem,
} from './filters.js';
import { formatBytes, formatDuration } from './rates.js';
import type { RunSnapshot, WorkerView } from './snapshot.js';
import { sortedClasses } from './summary.js';

// ---- failed -------------------------------------------------------------------------------

export interface FailedView {
  runId: string;
  /** counts by class over all failed items (first page only; null on later pages) */
  byClass: Record<string, number> | null;
  items: Array<{
    itemId: string;
    group: string;
    errorClass: string;
    message: string;
    retryable: boolean;
    attempts: number;
    worker?: string;
    failedAtMs?: number;
  }>;
  nextCursor?: string;
}

export async function readFailedView(
  ctx: ConvoyContext,
  runId: string,
  opts: { limit?: number; cursor?: string; errorClass?: string; group?: GroupFilter; parts?: readonly string[] } = {},
): Promise<FailedView> {
  const inGroup = groupMatcher(opts.group ?? {}, opts.parts ?? [WHOLE_GROUP]);
  const where = (r: ItemSummaryRow) =>
    (!opts.errorClass || r.lastError?.errorClass === opts.errorClass) && (!inGroup || inGroup(r.group));
  const [page, summary] = await Promise.all([
    itemPageByStatus(ctx.items, runId, 'failed', { limit: opts.limit ?? 100, cursor: opts.cursor, where }),
    opts.cursor ? Promise.resolve(null) : failedSetSummary(ctx.items, runId, { recent: 0 }),
  ]);
  return {
    runId,
    byClass: summary?.byClass ?? null,
    items: page.items.map((r) => ({
      itemId: r.itemId,
      group: r.group,
      errorClass: r.lastError?.errorClass ?? 'UNKNOWN',
      message: r.lastError?.message ?? '',
      retryable: r.lastError?.retryable ?? false,
      attempts: r.attempts,
      worker: r.worker,
      failedAtMs: r.finishedAtMs,
    })),
    nextCursor: page.nextCursor,
  };
}

export function formatFailedView(v: FailedView): string {
  const lines: string[] = [];
  if (v.byClass) {
    const total = Object.values(v.byClass).reduce((a, b) => a + b, 0);
    lines.push(`failed items of run ${v.runId}: ${total}`);
    for (const [c, n] of sortedClasses(v.byClass))
      lines.push(`  ${c.padEnd(28)} ${n}${errorClassInfo(c) ? `  ${errorClassInfo(c)!.hint}` : ''}`);
  }
  const grouped = groupByClass(
    v.items.map((i) => ({
      itemId: i.itemId,
      group: i.group,
      status: 'failed',
      attempts: i.attempts,
      updatedAtMs: 0,
      lastError: { errorClass: i.errorClass, message: i.message, retryable: i.retryable },
    })),
  );
  for (const g of grouped) {
    lines.push(`${g.errorClass} (${g.items.length} on this page)`);
    for (const i of g.items)
      lines.push(`  ${i.itemId}  [${i.group}]  attempts=${i.attempts}  ${oneLine(i.lastError?.message ?? '')}`);
  }
  if (v.nextCursor) lines.push(`next page: --cursor ${v.nextCursor}`);
  return lines.join('\n');
}

// ---- stuck --------------------------------------------------------------------------------

export async function readStuckItems(
  ctx: ConvoyContext,
  runId: string,
  opts: { stuckAfterMs: number; limit?: number; group?: GroupFilter; parts?: readonly string[] },
): Promise<StuckItem[]> {
  const now = ctx.now();
  const inGroup = groupMatcher(opts.group ?? {}, opts.parts ?? [WHOLE_GROUP]);
  const stuck: StuckItem[] = [];
  const onPage = (page: ItemSummaryRow[]) => {
    for (const row of page) {
      if (inGroup && !inGroup(row.group)) continue;
      const s = classifyStuck(row, now, opts.stuckAfterMs);
      if (s) stuck.push(s);
    }
  };
  await Promise.all([
    forEachItemSummary(ctx.items, runId, 'leased', onPage),
    forEachItemSummary(ctx.items, runId, 'retrying', onPage),
  ]);
  stuck.push(
    ...(await unfinishedInDlq(ctx, runId, now, new Set(stuck.map((s) => s.itemId)))).filter(
      (s) => !inGroup || inGroup(s.group),
    ),
  );
  stuck.sort((a, b) => b.forMs - a.forMs);
  return opts.limit ? stuck.slice(0, opts.limit) : stuck;
}

/**
 * Unfinished items whose message SQS moved to the DLQ (every receive counts toward its
 * maxReceiveCount, acted on or not). The DLQ is sampled without hiding anything (peekDlq), so
 * the view stays bounded and read-only; the item rows say which of those are still unfinished.
 */
async function unfinishedInDlq(
  ctx: ConvoyContext,
  runId: string,
  now: number,
  already: Set<string>,
): Promise<StuckItem[]> {
  const msgs = await ctx.queue.peekDlq(100).catch(() => []);
  const ids = [...new Set(msgs.filter((m) => m.ref?.runId === runId).map((m) => m.ref!.itemId))].filter(
    (id) => !already.has(id),
  );
  const rows = await Promise.all(ids.map((id) => getItem(ctx.items, runId, id).catch(() => undefined)));
  return rows
    .filter((r) => r && r.status !== 'done' && r.status !== 'failed')
    .map((r) => ({ ...toItemSummary(r!), reason: 'in-dlq' as const, forMs: Math.max(0, now - r!.updatedAtMs) }));
}

export function formatStuck(items: StuckItem[], stuckAfterMs: number): string {
  if (!items.length)
    return `no stuck items (lease expired, or no progress for ${formatDuration(Math.round(stuckAfterMs / 1000))})`;
  return [
    `${items.length} stuck item(s):`,
    ...items.map(
      (i) =>
        `  ${i.reason.padEnd(14)} ${formatDuration(Math.round(i.forMs / 1000)).padStart(7)}  ${i.itemId}  owner=${i.leaseOwner ?? i.worker ?? '-'}  attempts=${i.attempts}`,
    ),
  ].join('\n');
}

// ---- instances ----------------------------------------------------------------------------

export interface InstanceView {
  instance: string;
  workers: WorkerView[];
  inFlight: number;
  itemsPerMin: number;
  mibPerSec: number;
}

/** Workers by instance label; with `instance`, only that one. */
export function instanceViews(s: RunSnapshot, instance?: string): InstanceView[] {
  const byInstance = new Map<string, WorkerView[]>();
  for (const w of s.workers) {
    const label = w.instance ?? '(none)';
    if (instance !== undefined && label !== instance) continue;
    byInstance.set(label, [...(byInstance.get(label) ?? []), w]);
  }
  return [...byInstance.entries()].map(([label, workers]) => ({
    instance: label,
    workers,
    inFlight: workers.reduce((a, w) => a + (w.status === 'alive' ? w.inFlight : 0), 0),
    itemsPerMin: workers.reduce((a, w) => a + w.itemsPerMin, 0),
    mibPerSec: workers.reduce((a, w) => a + w.mibPerSec, 0),
  }));
}

export function formatWorkerRow(w: WorkerView): string {
  return [
    w.workerId.padEnd(28),
    w.host.padEnd(14),
    String(w.pid).padStart(7),
    w.status.padEnd(8),
    String(w.inFlight).padStart(4),
    String(w.done).padStart(7),
    String(w.failed).padStart(6),
    w.itemsPerMin.toFixed(1).padStart(9),
    w.mibPerSec.toFixed(2).padStart(8),
    `${Math.round(w.beatAgeMs / 1000)}s`.padStart(6),
  ].join(' ');
}

export const WORKER_HEADER = `${'worker'.padEnd(28)} ${'host'.padEnd(14)} ${'pid'.padStart(7)} ${'state'.padEnd(8)} ${'infl'.padStart(4)} ${'done'.padStart(7)} ${'failed'.padStart(6)} ${'items/min'.padStart(9)} ${'MiB/s'.padStart(8)} ${'beat'.padStart(6)}`;

export function formatInstances(views: InstanceView[]): string {
  if (!views.length) return 'no workers with that instance label';
  const lines: string[] = [];
  for (const v of views) {
    lines.push(
      `instance ${v.instance}: ${v.workers.length} worker(s), ${v.inFlight} in flight, ${v.itemsPerMin.toFixed(1)} items/min, ${v.mibPerSec.toFixed(2)} MiB/s`,
    );
    lines.push(`  ${WORKER_HEADER}`);
    for (const w of v.workers) lines.push(`  ${formatWorkerRow(w)}`);
  }
  return lines.join('\n');
}

// ---- groups (--group, and the part options of the run's kind) ------------------------------

export interface GroupRow {
  group: string;
  /** the group's parts by the run's kind's names, e.g. {customer, space} (none on the total) */
  labels?: Record<string, string>;
  /** from the group counters (cumulative; done and failed as the workers counted them) */
  counters: Counters;
  /** items planned in the group; pending = planned - done - leased - retrying - failed (approximate: done is counted) */
  planned: number;
  pending: number;
  /** exact, from the status index */
  leased: number;
  retrying: number;
  failedNow: number;
}

export interface GroupView {
  filter: GroupFilter;
  /** the part names of the run's kind's groups */
  parts: readonly string[];
  groups: GroupRow[];
  total: GroupRow;
}

/**
 * Progress of the groups matching the filter. Done/bytes come from group counters (rows per
 * group and worker; with a first part or --group, a key-range read of the groups under it), leased /
 * retrying / failed from the status index filtered by group (cost: items in those states).
 * Pending comes from the per-group planned count (written with the items) minus the rest.
 */
export async function readGroupView(
  ctx: ConvoyContext,
  runId: string,
  filter: GroupFilter,
  parts: readonly string[] = [WHOLE_GROUP],
): Promise<GroupView> {
  const match = groupMatcher(filter, parts) ?? (() => true);
  const counters = await readGroupCounters(ctx.meta, runId, { groupPrefix: groupPrefix(filter, parts) });
  const rows = new Map<string, GroupRow>();
  const row = (g: string) => {
    let r = rows.get(g);
    if (!r) {
      r = { ...emptyGroupRow(g), labels: parseGroup(g, parts) };
      rows.set(g, r);
    }
    return r;
  };
  for (const [g, c] of counters) {
    if (!match(g)) continue;
    row(g).counters = c.counters;
    row(g).planned = c.planned;
  }
  await Promise.all(
    (['leased', 'retrying', 'failed'] as const).map((status) =>
      forEachItemSummary(ctx.items, runId, status, (page) => {
        for (const item of page) {
          if (!match(item.group)) continue;
          const r = row(item.group);
          if (status === 'failed') r.failedNow++;
          else r[status]++;
        }
      }),
    ),
  );
  const groups = [...rows.values()].sort((a, b) => a.group.localeCompare(b.group));
  for (const g of groups) g.pending = Math.max(0, g.planned - g.counters.done - g.leased - g.retrying - g.failedNow);
  const total = emptyGroupRow('(total)');
  for (const g of groups) {
    total.planned += g.planned;
    total.pending += g.pending;
    for (const k of Object.keys(total.counters) as Array<keyof Counters>) total.counters[k] += g.counters[k];
    total.leased += g.leased;
    total.retrying += g.retrying;
    total.failedNow += g.failedNow;
  }
  return { filter, parts, groups, total };
}

function emptyGroupRow(group: string): GroupRow {
  return { group, counters: emptyCounters(), planned: 0, pending: 0, leased: 0, retrying: 0, failedNow: 0 };
}

export function formatGroupView(v: GroupView): string {
  const what = describeFilter(v.filter, v.parts);
  if (!v.groups.length) return `no items seen yet for ${what}`;
  const fmt = (r: GroupRow) =>
    `  ${r.group.padEnd(40)} planned ${String(r.planned).padStart(8)}  pending ${String(r.pending).padStart(8)}  done ${String(r.counters.done).padStart(8)}  failed ${String(r.failedNow).padStart(6)}  leased ${String(r.leased).padStart(4)}  retrying ${String(r.retrying).padStart(4)}  ${formatBytes(r.counters.bytes).padStart(10)}  ${r.counters.objects} objects`;
  return [`groups (${v.parts.join('/')}) of ${what}: ${v.groups.length}`, ...v.groups.map(fmt), fmt(v.total)].join(
    '\n',
  );
}

function oneLine(s: string): string {
  const flat = s.replace(/\s+/g, ' ');
  return flat.length > 160 ? `${flat.slice(0, 157)}...` : flat;
}
