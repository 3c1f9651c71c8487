/**
 * `convoy report --run R [--failed-only] [--format csv|ndjson] [--gzip] [--out FILE|s3://bucket/key]`:
 * a completion report like S3 Batch Operations' — one line per item (or per failed item) with its
 * id and group, status, error class, HTTP status where the failure had one, message and attempts.
 *
 * Streamed page by page: items are read 500 at a time (a Query of the run's partition, or of the
 * sparse failed-status index for --failed-only), each page turned into lines and pushed through a
 * stream pipeline (gzip, then a file, stdout, or an S3 multipart `Upload` from lib-storage) that
 * waits for the destination before the next page is read. Memory is one page plus the streams'
 * buffers (the Upload holds at most queueSize x partSize = 4 x 5 MiB), whatever the run's size.
 * A read: nothing in convoy's state is written.
 */
import { createWriteStream } from 'node:fs';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { getRemote } from '../shared/config.js';
import type { ConvoyContext } from '../shared/context.js';
import { InputError } from '../shared/errors.js';
import { itemsOfRun } from '../state/item-bulk.js';
import { itemsByStatus } from '../state/status-index.js';
import type { ItemRow } from '../state/item-row.js';
import { getRun } from '../state/runs.js';

export const REPORT_FORMATS = ['csv', 'ndjson'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

/** The report's columns, in order (CSV header; NDJSON keys). */
export const REPORT_COLUMNS = [
  'itemId',
  'group',
  'status',
  'errorClass',
  'httpStatus',
  'message',
  'attempts',
  'retryable',
  'finishedAt',
] as const;

export interface ReportOptions {
  runId: string;
  failedOnly?: boolean;
  format?: string;
  gzip?: boolean;
  /** a file, `s3://bucket/key`, or undefined for stdout */
  out?: string;
  /** the remote `s3://` names (default: the config's only remote) */
  remote?: string;
  pageSize?: number;
}

export interface ReportTarget {
  format: ReportFormat;
  kind: 'stdout' | 'file' | 's3';
  path?: string;
  bucket?: string;
  key?: string;
  remote?: string;
}

/** Check every input before anything is read or written; InputError names the flag. */
export function reportTarget(ctx: ConvoyContext, o: ReportOptions): ReportTarget {
  const format = (o.format ?? 'csv') as ReportFormat;
  if (!REPORT_FORMATS.includes(format))
    throw new InputError(`--format: "${o.format}" is not a report format; use csv or ndjson`);
  if (o.out === undefined) return { format, kind: 'stdout' };
  if (!o.out.startsWith('s3://')) {
    if (!o.out.trim()) throw new InputError('--out: give a file name or s3://bucket/key');
    return { format, kind: 'file', path: o.out };
  }
  const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])\/(.+)$/.exec(o.out);
  if (!m) throw new InputError(`--out: "${o.out}" is not s3://bucket/key`);
  const names = Object.keys(ctx.config.remotes);
  const remote = o.remote ?? (names.length === 1 ? names[0] : undefined);
  if (!remote)
    throw new InputError(
      `--out ${o.out}: name the S3 endpoint to write it to with --remote (remotes: ${names.join(', ') || '(none)'})`,
    );
  if (!names.includes(remote))
    throw new InputError(`--remote: unknown remote "${remote}"; known remotes: ${names.join(', ') || '(none)'}`);
  return { format, kind: 's3', bucket: m[1], key: m[2], remote };
}

/** One item as a report row. */
export function reportRow(item: ItemRow): Record<(typeof REPORT_COLUMNS)[number], string | number | boolean | null> {
  const e = item.lastError;
  const failed = item.status === 'failed' || item.status === 'retrying';
  return {
    itemId: item.itemId,
    group: item.group,
    status: item.status,
    errorClass: failed ? (e?.errorClass ?? null) : null,
    httpStatus: failed ? (e?.httpStatus ?? null) : null,
    message: failed ? (e?.message ?? null) : null,
    attempts: item.attempts ?? 0,
    retryable: failed ? (e?.retryable ?? null) : null,
    finishedAt: item.finishedAtMs ? new Date(item.finishedAtMs).toISOString() : null,
  };
}

/** RFC 4180: a field with a comma, quote or line break is quoted, quotes doubled. */
export function csvField(v: string | number | boolean | null): string {
  if (v === null) return '';
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** The report's text, page by page: one string per page (header first for CSV). */
export async function* reportChunks(
  ctx: ConvoyContext,
  o: { runId: string; failedOnly?: boolean; format: ReportFormat; pageSize?: number },
  count: { rows: number },
): AsyncGenerator<string> {
  if (o.format === 'csv') yield `${REPORT_COLUMNS.join(',')}\n`;
  const pages = o.failedOnly
    ? itemsByStatus(ctx.items, o.runId, 'failed', { pageSize: o.pageSize })
    : itemsOfRun(ctx.items, o.runId, { pageSize: o.pageSize });
  for await (const page of pages) {
    let text = '';
    for (const item of page) {
      const row = reportRow(item);
      text +=
        o.format === 'csv'
          ? `${REPORT_COLUMNS.map((c) => csvField(row[c])).join(',')}\n`
          : `${JSON.stringify({ runId: o.runId, ...row })}\n`;
    }
    count.rows += page.length;
    yield text;
  }
}

export interface ReportResult {
  rows: number;
  /** where it went: a file, s3://bucket/key, or stdout */
  destination: string;
}

/** Write the report; `stdout` is where it goes without --out. */
export async function writeReport(ctx: ConvoyContext, o: ReportOptions, stdout: Writable): Promise<ReportResult> {
  const target = reportTarget(ctx, o);
  if (!(await getRun(ctx.meta, o.runId)))
    throw new InputError(`run "${o.runId}" not found (list runs with \`convoy status\`)`);
  const count = { rows: 0 };
  // one page at a time: the next page is read when the destination has taken the last one
  const source = Readable.from(reportChunks(ctx, { ...o, format: target.format }, count), { highWaterMark: 1 });
  const stages: NodeJS.ReadWriteStream[] = o.gzip ? [createGzip()] : [];
  if (target.kind === 'stdout') {
    await pipeline(source, ...(stages as [NodeJS.ReadWriteStream]), stdout, { end: false });
    return { rows: count.rows, destination: 'stdout' };
  }
  if (target.kind === 'file') {
    await pipeline(source, ...(stages as [NodeJS.ReadWriteStream]), createWriteStream(target.path!));
    return { rows: count.rows, destination: target.path! };
  }
  const { uploadReport } = await import('./report-upload.js');
  await uploadReport(
    getRemote(ctx.config, target.remote!),
    {
      bucket: target.bucket!,
      key: target.key!,
      contentType: target.format === 'csv' ? 'text/csv' : 'application/x-ndjson',
      ...(o.gzip ? { contentEncoding: 'gzip' } : {}),
    },
    (body) => pipeline(source, ...(stages as [NodeJS.ReadWriteStream]), body),
  );
  return { rows: count.rows, destination: `s3://${target.bucket}/${target.key}` };
}
