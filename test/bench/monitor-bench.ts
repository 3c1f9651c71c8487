/**
 * `npm run bench:monitor [items] [workers]`: how long one monitor refresh takes on a large run.
 *
 * Starts the local stack as its own process (`convoy local up --in-memory` in a temp state dir),
 * writes a run of `items` item rows (default 100,000) in a mid-run mix of states straight into
 * the items table (60% done, 1% failed in 3 classes, 0.5% retrying, 8 leased per worker with a
 * quarter of the leases expired, the rest pending), 30 minutes of counters for `workers`
 * (default 20) workers and their heartbeats, then times:
 *   - the dashboard's refresh (snapshot + stuck items) cold, and warm x 20 (median, p95, max),
 *   - the background exact recount of every status (what the refresh path avoids),
 *   - a one-shot exact `convoy monitor` summary.
 * Prints a table and one JSON line. Nothing here is a test: numbers depend on the machine.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BatchWriteCommand } from '@aws-sdk/lib-dynamodb';
import { localDown, localUp } from '../../infra/local/commands.js';
import { SnapshotReader } from '../../monitor/snapshot.js';
import { buildSummary } from '../../monitor/summary.js';
import { readStuckItems } from '../../monitor/views.js';
import { loadConfig } from '../../shared/config.js';
import { createContext, type ConvoyContext } from '../../shared/context.js';
import { silentLogger } from '../../shared/log.js';
import { CounterBuffer } from '../../state/counters.js';
import { countByStatus } from '../../state/status-index.js';
import { newItemRow, type ItemRow } from '../../state/item-row.js';
import { markPlanComplete } from '../../state/run-lifecycle.js';
import { addPlannedItems, createRun } from '../../state/runs.js';
import { statusKey } from '../../state/schema.js';
import { writeHeartbeat } from '../../state/workers.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const ITEMS = Number(process.argv[2] ?? process.env.BENCH_ITEMS ?? 100_000);
const WORKERS = Number(process.argv[3] ?? process.env.BENCH_WORKERS ?? 20);
const RUN = 'bench-run';
const MIB = 1024 * 1024;

function rowFor(i: number, now: number): Record<string, unknown> {
  const itemId = `upload:space${i % 500}:bafy${String(i).padStart(9, '0')}`;
  const row: ItemRow & { statusKey?: string } = newItemRow(
    RUN,
    { itemId, kind: 'bench', group: `cust${i % 50}/space${i % 500}`, spec: { i } },
    now - 3_600_000,
  );
  const worker = `worker-${i % WORKERS}`;
  const set = (status: ItemRow['status'], extra: Partial<ItemRow>) =>
    Object.assign(row, {
      status,
      statusKey: status === 'done' ? undefined : statusKey(RUN, status, itemId),
      worker,
      attempts: 1,
      ...extra,
    });
  const f = i / ITEMS;
  if (f < 0.6) set('done', { metrics: { bytes: MIB, objects: 1, durationMs: 100 }, finishedAtMs: now - 60_000 });
  else if (f < 0.61)
    set('failed', {
      lastError: {
        errorClass: ['NOT_FOUND', 'ACCESS_DENIED', 'UNKNOWN'][i % 3]!,
        message: `item ${i} failed`,
        retryable: false,
      },
      finishedAtMs: now - 30_000,
    });
  else if (f < 0.615)
    set('retrying', {
      lastError: { errorClass: 'THROTTLED', message: 'slow down', retryable: true },
      nextAttemptAtMs: now + 30_000,
    });
  else if (i - Math.floor(0.615 * ITEMS) < WORKERS * 8)
    set('leased', {
      leaseOwner: worker,
      leaseExpiresAtMs: i % 4 === 0 ? now - 10_000 : now + 50_000,
      startedAtMs: now - 5_000,
    });
  if (row.statusKey === undefined) delete row.statusKey;
  return row as unknown as Record<string, unknown>;
}

async function writeRun(ctx: ConvoyContext): Promise<void> {
  const now = ctx.now();
  await createRun(ctx.meta, { runId: RUN, kind: 'bench', spec: {} });
  const batches: Array<Record<string, unknown>[]> = [];
  for (let i = 0; i < ITEMS; i += 25)
    batches.push(Array.from({ length: Math.min(25, ITEMS - i) }, (_, k) => rowFor(i + k, now)));
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < batches.length) {
        let requests = batches[next++]!.map((Item) => ({ PutRequest: { Item } }));
        while (requests.length) {
          const out = await ctx.clients.ddb.send(
            new BatchWriteCommand({ RequestItems: { [ctx.items.table]: requests } }),
          );
          requests = (out.UnprocessedItems?.[ctx.items.table] ?? []) as typeof requests;
        }
      }
    }),
  );
  await addPlannedItems(ctx.meta, RUN, ITEMS);
  await markPlanComplete(ctx.meta, RUN);
  // 30 minutes of counters from every worker (what their flushes would have written).
  const perWorkerMinute = Math.floor((0.6 * ITEMS) / 30 / WORKERS);
  await Promise.all(
    Array.from({ length: WORKERS }, async (_, w) => {
      for (let m = 29; m >= 0; m--) {
        const buf = new CounterBuffer({ ...ctx.meta, now: () => now - m * 60_000 }, `worker-${w}`);
        buf.add(RUN, { done: perWorkerMinute, bytes: perWorkerMinute * MIB, objects: perWorkerMinute });
        await buf.flush();
      }
    }),
  );
}

/** Heartbeats written just before measuring (one worker 2 minutes late: stale). */
async function writeHeartbeats(ctx: ConvoyContext): Promise<void> {
  const now = ctx.now();
  await Promise.all(
    Array.from({ length: WORKERS }, (_, w) =>
      writeHeartbeat(ctx.meta, {
        workerId: `worker-${w}`,
        host: `host-${w % 5}`,
        pid: 1000 + w,
        startedAtMs: now - 3_600_000,
        lastBeatAtMs: w === 0 ? now - 120_000 : now,
        state: 'running',
        inFlight: 8,
        done: 0,
        failed: 0,
        instance: `instance-${w % 5}`,
      }),
    ),
  );
}

const ms = (t0: number) => Math.round((performance.now() - t0) * 10) / 10;
const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;

async function main(): Promise<void> {
  const stateDir = mkdtempSync(path.join(tmpdir(), 'convoy-bench-monitor-'));
  try {
    await localUp(stateDir, { inMemory: true });
    const ctx = await createContext(loadConfig({ stateDir, env: {} }), { log: silentLogger });
    try {
      let t0 = performance.now();
      await writeRun(ctx);
      const writeMs = ms(t0);
      await writeHeartbeats(ctx);
      const reader = new SnapshotReader(ctx, {});
      const refresh = async () => {
        const snap = await reader.read(RUN);
        await readStuckItems(ctx, RUN, { stuckAfterMs: 300_000, limit: 50 });
        return snap;
      };
      t0 = performance.now();
      const cold = await refresh();
      const coldMs = ms(t0);
      t0 = performance.now();
      await reader.settle();
      const recountMs = ms(t0);
      const warm: number[] = [];
      let last = cold;
      for (let i = 0; i < 20; i++) {
        t0 = performance.now();
        last = await refresh();
        warm.push(ms(t0));
      }
      t0 = performance.now();
      await countByStatus(ctx.items, RUN, 'pending');
      const pendingCountMs = ms(t0);
      t0 = performance.now();
      const exact = await buildSummary(ctx, RUN);
      const exactMs = ms(t0);
      const result = {
        items: ITEMS,
        workers: WORKERS,
        writeMs,
        coldRefreshMs: coldMs,
        warmRefreshMs: { median: pct(warm, 0.5), p95: pct(warm, 0.95), max: Math.max(...warm) },
        backgroundExactRecountMs: recountMs,
        exactPendingCountMs: pendingCountMs,
        oneShotExactSummaryMs: exactMs,
        countsShown: last.counts,
        countsExact: exact.counts,
        failuresByClass: last.failuresByClass,
        workersShown: last.workerCounts,
      };
      process.stdout.write(
        [
          `monitor refresh on a run of ${ITEMS} items, ${WORKERS} workers (local stack in its own process)`,
          `  writing the run                 ${writeMs} ms`,
          `  first refresh (cold)            ${coldMs} ms`,
          `  refresh (warm, x20)             median ${result.warmRefreshMs.median} ms, p95 ${result.warmRefreshMs.p95} ms, max ${result.warmRefreshMs.max} ms`,
          `  wait for the background recount ${recountMs} ms after the first refresh`,
          `  exact pending count alone       ${pendingCountMs} ms (what the refresh path avoids)`,
          `  one-shot exact summary          ${exactMs} ms`,
          `  counts shown   ${JSON.stringify(last.counts)}`,
          `  counts exact   ${JSON.stringify(exact.counts)}`,
          JSON.stringify(result),
        ].join('\n') + '\n',
      );
    } finally {
      ctx.close();
    }
  } finally {
    await localDown(stateDir);
    rmSync(stateDir, { recursive: true, force: true });
  }
}

await main();
