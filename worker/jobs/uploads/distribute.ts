/**
 * `convoy distribute --instances N [--min-uploads K] [--out DIR]`: count every customer's uploads
 * and write one customers file per instance, balanced by upload count, for
 * `convoy worker --customers-file DIR/instance-<i>.json`.
 *
 * Counting scans the consumer table in parallel segments and counts each space's uploads with
 * COUNT queries (no rows read), many at once. It is resumable: every counted space is appended
 * to DIR/counts.jsonl as it finishes, and a re-run skips the spaces already there, so an
 * interrupted count over millions of spaces picks up where it stopped.
 *
 * The files are a starting point, not a cage (the legacy tool's weakness): every worker plans
 * its file's customers and then works the SHARED queue, so an idle or added instance helps with
 * anyone's uploads and a dead one strands nothing.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pLimit from 'p-limit';
import { InputError } from '../../../shared/errors.js';
import { consumersPage, countUploads, type SourceTables } from './source-tables.js';

export interface InstanceFile {
  instance: number;
  of: number;
  uploads: number;
  customers: string[];
}

/**
 * Longest-processing-time-first: customers by upload count, largest first, each to the instance
 * with the fewest uploads so far (ties: the lower instance). Within 4/3 of the best balance, and
 * deterministic for the same counts.
 */
export function balance(counts: Map<string, number>, instances: number): InstanceFile[] {
  if (!Number.isInteger(instances) || instances < 1)
    throw new InputError(`--instances must be a whole number >= 1, got ${instances}`);
  const files: InstanceFile[] = Array.from({ length: instances }, (_, i) => ({
    instance: i + 1,
    of: instances,
    uploads: 0,
    customers: [],
  }));
  const sorted = [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  for (const [customer, n] of sorted) {
    let target = files[0]!;
    for (const f of files) if (f.uploads < target.uploads) target = f;
    target.customers.push(customer);
    target.uploads += n;
  }
  return files;
}

export interface CountOptions {
  /** directory for counts.jsonl and the instance files */
  dir: string;
  /** parallel scan segments of the consumer table. @defaultValue 4 */
  segments?: number;
  /** COUNT queries in flight. @defaultValue 16 */
  concurrency?: number;
  onProgress?: (spacesCounted: number) => void;
}

interface CountLine {
  space: string;
  customer: string;
  uploads: number;
}

const COUNTS_FILE = 'counts.jsonl';

function readCounted(file: string): Map<string, CountLine> {
  const done = new Map<string, CountLine>();
  if (!existsSync(file)) return done;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      const c = JSON.parse(line) as CountLine;
      if (typeof c.space === 'string' && typeof c.customer === 'string' && typeof c.uploads === 'number')
        done.set(c.space, c);
    } catch {
      // a line cut short by a crash: that space is counted again
    }
  }
  return done;
}

/** Uploads per customer, counting only spaces not yet in DIR/counts.jsonl. */
export async function countUploadsPerCustomer(
  t: SourceTables,
  opts: CountOptions,
): Promise<{ perCustomer: Map<string, number>; spaces: number; resumed: number }> {
  mkdirSync(opts.dir, { recursive: true });
  const file = path.join(opts.dir, COUNTS_FILE);
  const counted = readCounted(file);
  const resumed = counted.size;
  const limit = pLimit(opts.concurrency ?? 16);
  const segments = opts.segments ?? 4;
  let n = counted.size;
  await Promise.all(
    Array.from({ length: segments }, async (_, segment) => {
      let start: Record<string, unknown> | undefined;
      do {
        const page = await consumersPage(t, segment, segments, start);
        await Promise.all(
          page.rows
            .filter((r) => !counted.has(r.consumer))
            .map((r) =>
              limit(async () => {
                const line: CountLine = {
                  space: r.consumer,
                  customer: r.customer,
                  uploads: await countUploads(t, r.consumer),
                };
                appendFileSync(file, JSON.stringify(line) + '\n');
                counted.set(r.consumer, line);
                opts.onProgress?.(++n);
              }),
            ),
        );
        start = page.next;
      } while (start);
    }),
  );
  const perCustomer = new Map<string, number>();
  for (const c of counted.values()) perCustomer.set(c.customer, (perCustomer.get(c.customer) ?? 0) + c.uploads);
  return { perCustomer, spaces: counted.size, resumed };
}

/** Write instance-<i>.json files and distribution.json; returns the files written. */
export function writeInstanceFiles(dir: string, files: InstanceFile[], skipped: Array<[string, number]>): string[] {
  mkdirSync(dir, { recursive: true });
  const written: string[] = [];
  for (const f of files) {
    const p = path.join(dir, `instance-${f.instance}.json`);
    writeFileSync(p, JSON.stringify(f, null, 2) + '\n');
    written.push(p);
  }
  writeFileSync(
    path.join(dir, 'distribution.json'),
    JSON.stringify(
      {
        instances: files.map((f) => ({ instance: f.instance, customers: f.customers.length, uploads: f.uploads })),
        skipped: skipped.map(([customer, uploads]) => ({ customer, uploads })),
      },
      null,
      2,
    ) + '\n',
  );
  return written;
}
