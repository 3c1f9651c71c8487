/**
 * What `convoy verify --run <uploads run>` prints and writes, by the run's mode:
 *   migrate and the test modes   uploads ok / failed / pending; a JSONL line per upload that is
 *                                not ok (its status and error)
 *   verify-only                  what is missing per upload (index, shards without a location
 *                                claim for the space, gateway), a JSONL line for each
 *   dry-run                      per customer: uploads, shards, bytes to read and the estimated
 *                                time at the measured rate, and the run's total
 * The aggregation is pure (`UploadsReport`), fed one item at a time: a run of millions of
 * uploads is read page by page, never held in memory (per-customer totals only).
 */
import type { ConvoyContext } from '../../../shared/context.js';
import { itemsOfRun } from '../../../state/item-bulk.js';
import type { ItemRow } from '../../../state/item-row.js';
import { getRun, listRuns } from '../../../state/runs.js';
import type { ItemSpec, UploadsSpec } from './spec.js';

/**
 * Rates the dry-run estimate uses unless the plan gave its own (`--rate`, `--index-mib-per-s`):
 * measured by `npm run bench:uploads` on the development machine (2 cores, local peers, 20 ms
 * injected latency); see docs/uploads.md. Production rates differ: measure a small run first.
 */
export const DEFAULT_RATES = { uploadsPerMinPerWorker: 1400, indexMibPerSecPerWorker: 300 };

/** The uploads rate an estimate assumes, and where it comes from (printed with the estimate). */
export interface RateAssumption {
  uploadsPerMinPerWorker: number;
  /** e.g. "measured by run uploads-1 on 2026-12-02", "given with --rate" */
  source: string;
}

/** the kind's name (expand.ts KIND; not imported: that module pulls in the whole runtime) */
const UPLOADS_KIND = 'uploads';
/** A history run is trusted only with at least this many measured uploads. */
const MIN_MEASURED_UPLOADS = 10;
/** Item rows read per history run at most (the rate of a sample is the rate). */
const MAX_ITEMS_READ = 50_000;

/**
 * Uploads per minute per worker process, measured from a finished uploads run: its done upload
 * items grouped by the worker that did them; each worker's time is the span from its first start
 * to its last finish, so the rate is uploads / (sum of those spans). Undefined when the run has
 * too few measured uploads.
 */
export async function measureRunRate(
  ctx: ConvoyContext,
  runId: string,
): Promise<{ uploadsPerMinPerWorker: number; uploads: number } | undefined> {
  const spans = new Map<string, { first: number; last: number }>();
  let uploads = 0;
  let read = 0;
  for await (const page of itemsOfRun(ctx.items, runId)) {
    for (const item of page) {
      if (
        (item.spec as ItemSpec).type !== 'upload' ||
        item.status !== 'done' ||
        !item.worker ||
        !item.startedAtMs ||
        !item.finishedAtMs
      )
        continue;
      uploads++;
      const s = spans.get(item.worker);
      spans.set(item.worker, {
        first: Math.min(s?.first ?? Infinity, item.startedAtMs),
        last: Math.max(s?.last ?? 0, item.finishedAtMs),
      });
    }
    read += page.length;
    if (read >= MAX_ITEMS_READ) break;
  }
  const workerMs = [...spans.values()].reduce((a, s) => a + Math.max(0, s.last - s.first), 0);
  if (uploads < MIN_MEASURED_UPLOADS || workerMs <= 0) return undefined;
  return { uploadsPerMinPerWorker: Math.max(1, Math.round(uploads / (workerMs / 60_000))), uploads };
}

/**
 * What the dry-run estimate assumes, best first: the plan's own `--rate`; this installation's
 * newest finished migrate run of uploads (its measured rate: same machines, peers and links as the
 * run being estimated); else DEFAULT_RATES, which were measured elsewhere and said so. A bench
 * number from another machine was several times too fast here, hence history first.
 */
export async function uploadsRateAssumption(
  ctx: ConvoyContext,
  spec: UploadsSpec,
  excludeRunId?: string,
): Promise<RateAssumption> {
  if (spec.estimate?.uploadsPerMinPerWorker)
    return { uploadsPerMinPerWorker: spec.estimate.uploadsPerMinPerWorker, source: 'given with --rate' };
  try {
    const runs = (await listRuns(ctx.meta)).filter(
      (r) => r.kind === UPLOADS_KIND && r.state === 'done' && r.runId !== excludeRunId,
    );
    for (const row of runs) {
      const run = row.spec && 'mode' in row.spec ? row : await getRun(ctx.meta, row.runId);
      if ((run?.spec as { mode?: string } | undefined)?.mode !== 'migrate') continue;
      const measured = await measureRunRate(ctx, row.runId);
      if (!measured) continue;
      const day = new Date(row.finishedAtMs ?? row.updatedAtMs).toISOString().slice(0, 10);
      return {
        uploadsPerMinPerWorker: measured.uploadsPerMinPerWorker,
        source: `measured by run ${row.runId} on ${day}: ${measured.uploads.toLocaleString('en-US')} uploads`,
      };
    }
  } catch (err) {
    ctx.log.warn(
      { err: (err as Error).message },
      'could not read the run history for the estimate; using the default rate',
    );
  }
  return {
    uploadsPerMinPerWorker: DEFAULT_RATES.uploadsPerMinPerWorker,
    source:
      'default from npm run bench:uploads on the development machine; no finished uploads run here to measure, pass --rate to set it',
  };
}

export interface CustomerTotals {
  uploads: number;
  shards: number;
  bytes: number;
  /** shards in neither the allocation nor the store table (size unknown) */
  shardsUnknown: number;
}

export interface ReportLine {
  item: string;
  status: string;
  [k: string]: unknown;
}

/** Minutes for `uploads` and `bytes` at the given rates and number of worker processes. */
export function estimateMinutes(
  t: Pick<CustomerTotals, 'uploads' | 'bytes'>,
  rates: { uploadsPerMinPerWorker: number; indexMibPerSecPerWorker: number },
  workers: number,
): number {
  const byCount = t.uploads / rates.uploadsPerMinPerWorker;
  const byBytes = t.bytes / 2 ** 20 / rates.indexMibPerSecPerWorker / 60;
  return Math.max(byCount, byBytes) / Math.max(1, workers);
}

export function formatMinutes(min: number): string {
  if (min < 1) return `${Math.max(1, Math.round(min * 60))} s`;
  if (min < 120) return `${min.toFixed(1)} min`;
  return `${(min / 60).toFixed(1)} h`;
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

export class UploadsReport {
  readonly counts: Record<string, number> = { uploads: 0, ok: 0, failed: 0, pending: 0 };
  readonly customers = new Map<string, CustomerTotals>();

  constructor(
    private readonly spec: UploadsSpec,
    /** dry-run: the rate to assume (uploadsRateAssumption); without it, --rate or the default */
    private readonly assumption?: RateAssumption,
  ) {
    if (spec.mode === 'verify-only')
      Object.assign(this.counts, { missing_index: 0, missing_locations: 0, missing_gateway: 0 });
    if (spec.mode === 'dry-run') Object.assign(this.counts, { shards: 0, bytes: 0 });
  }

  /** Count one item; returns the JSONL line to write for it, if any. */
  add(item: ItemRow): ReportLine | undefined {
    const spec = item.spec as ItemSpec;
    if (spec.type !== 'upload') return undefined;
    const c = this.counts;
    c.uploads!++;
    const m = (item.metrics ?? {}) as Record<string, number>;
    const line: ReportLine = { item: item.itemId, status: item.status };
    if (item.status === 'failed') {
      c.failed!++;
      return { ...line, error: item.lastError };
    }
    if (item.status !== 'done') {
      c.pending!++;
      return line;
    }
    if (this.spec.mode === 'dry-run') {
      const t = this.customers.get(spec.customer) ?? { uploads: 0, shards: 0, bytes: 0, shardsUnknown: 0 };
      t.uploads++;
      t.shards += m.shards ?? 0;
      t.bytes += m.bytes ?? 0;
      t.shardsUnknown += m.shardsUnknown ?? 0;
      this.customers.set(spec.customer, t);
      c.shards! += m.shards ?? 0;
      c.bytes! += m.bytes ?? 0;
      c.ok!++;
      return undefined;
    }
    if (this.spec.mode === 'verify-only' && (m.missingIndex || m.missingLocations || m.missingGateway)) {
      if (m.missingIndex) c.missing_index!++;
      if (m.missingLocations) c.missing_locations!++;
      if (m.missingGateway) c.missing_gateway!++;
      return {
        ...line,
        missingIndex: Boolean(m.missingIndex),
        shardsWithoutLocationForSpace: m.missingLocations ?? 0,
        shards: m.shards,
        missingGateway: Boolean(m.missingGateway),
      };
    }
    c.ok!++;
    return undefined;
  }

  get clean(): boolean {
    return this.counts.ok === this.counts.uploads;
  }

  lines(): string[] {
    const out = Object.entries(this.counts)
      .filter(([k]) => k !== 'bytes')
      .map(([k, v]) => `${k.padEnd(18)} ${v}`);
    if (this.spec.mode !== 'dry-run') return out;
    const rates = {
      uploadsPerMinPerWorker:
        this.assumption?.uploadsPerMinPerWorker ??
        this.spec.estimate?.uploadsPerMinPerWorker ??
        DEFAULT_RATES.uploadsPerMinPerWorker,
      indexMibPerSecPerWorker: this.spec.estimate?.indexMibPerSecPerWorker ?? DEFAULT_RATES.indexMibPerSecPerWorker,
    };
    const workers = this.spec.estimate?.workers ?? 1;
    out.push(`bytes to read      ${mib(this.counts.bytes ?? 0)}`);
    out.push('');
    const source =
      this.assumption?.source ??
      (this.spec.estimate?.uploadsPerMinPerWorker
        ? 'given with --rate'
        : 'default from npm run bench:uploads on the development machine');
    out.push(`assuming ${rates.uploadsPerMinPerWorker.toLocaleString('en-US')} uploads/min per worker (${source})`);
    out.push(
      `per customer (estimate with ${workers} worker process(es) at ${rates.uploadsPerMinPerWorker} uploads/min and ${rates.indexMibPerSecPerWorker} MiB/s each):`,
    );
    out.push(
      `  ${'customer'.padEnd(44)} ${'uploads'.padStart(8)} ${'shards'.padStart(8)} ${'bytes'.padStart(12)}  estimate`,
    );
    const rows = [...this.customers.entries()].sort((a, b) => b[1].uploads - a[1].uploads || a[0].localeCompare(b[0]));
    for (const [customer, t] of rows) {
      const unknown = t.shardsUnknown ? ` (${t.shardsUnknown} shard size(s) unknown)` : '';
      out.push(
        `  ${customer.padEnd(44)} ${String(t.uploads).padStart(8)} ${String(t.shards).padStart(8)} ${mib(t.bytes).padStart(12)}  ${formatMinutes(estimateMinutes(t, rates, workers))}${unknown}`,
      );
    }
    const total = { uploads: this.counts.ok ?? 0, bytes: this.counts.bytes ?? 0 };
    out.push(
      `  ${'total'.padEnd(44)} ${String(total.uploads).padStart(8)} ${String(this.counts.shards).padStart(8)} ${mib(total.bytes).padStart(12)}  ${formatMinutes(estimateMinutes(total, rates, workers))}`,
    );
    return out;
  }
}
