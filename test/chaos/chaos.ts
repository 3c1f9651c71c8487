/**
 * `npm run test:chaos`: one fleet-probe run on a multi-process fleet (test/fleet/) while, during
 * that run: workers are killed -9 at random and restarted (>= --kills), a service is unreachable
 * for 10-30 s (S3+SQS stalled, then DynamoDB refusing), one host's link is cut, the on-disk
 * DynamoDB emulator is killed -9 and restarted, the run is paused for 12 s (`convoy pause`) and
 * resumed, --throttle of requests are answered with throttling errors, and messages are
 * delivered twice (re-sent for random items, done or not).
 *
 * Afterwards it checks: 0 items lost (every item done, or failed with an error class),
 * 0 duplicate effects (the peer counted each done item's registration exactly once), verify
 * clean (every destination object correct). Prints the counts and writes
 * test/bench/results/chaos.json; exits 1 when a check fails.
 *
 *   --items 2500 --workers 4 --kills 20 --throttle 0.05 --outage-s 12   (full)
 *   --short   (CI: 1200 items, 8 kills, 10 s outage)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { reconcileRun } from '../../coordinator/reconcile.js';
import { controlRun } from '../../coordinator/run-control.js';
import { runStatus, type RunStatus } from '../../coordinator/status.js';
import { itemsOfRun } from '../../state/item-bulk.js';
import { itemsByStatus } from '../../state/status-index.js';
import { closeOnSignals, Fleet, PROBE_CLI, sleep } from '../fleet/fleet.js';
import { probeItemId } from '../fleet/probe-kind.js';
import { planProbe, seedProbe, verifyProbe, waitForRun } from '../fleet/probe-run.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const { values: args } = parseArgs({
  options: {
    short: { type: 'boolean', default: false },
    items: { type: 'string' },
    workers: { type: 'string', default: '4' },
    kills: { type: 'string' },
    throttle: { type: 'string', default: '0.05' },
    'outage-s': { type: 'string' },
    'think-ms': { type: 'string', default: '40' },
    out: { type: 'string', default: 'test/bench/results/chaos.json' },
  },
});

const short = args.short!;
const ITEMS = Number(args.items ?? (short ? 1200 : 2500));
const WORKERS = Number(args.workers);
const MIN_KILLS = Number(args.kills ?? (short ? 8 : 20));
const THROTTLE = Number(args.throttle);
const OUTAGE_MS = Number(args['outage-s'] ?? (short ? 10 : 12)) * 1000;
const RUN_ID = 'chaos-1';

const log = (msg: string) => process.stderr.write(`[chaos ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
const rand = (min: number, max: number) => min + Math.random() * (max - min);

/** The run's retry policy: more attempts than the faults can use up, retried soon. */
const CHAOS_RETRY = { maxAttempts: 12, backoffBaseMs: 250 };

async function main(): Promise<number> {
  const fleet = await Fleet.start({
    workers: WORKERS,
    throttleRate: THROTTLE,
    cli: PROBE_CLI,
    // short leases so killed workers' items return quickly; the run's retry policy is CHAOS_RETRY
    workerArgs: ['--concurrency', '8', '--wait-seconds', '2', '--lease-ms', '8000', '--shutdown-deadline-ms', '3000'],
    log,
  });
  closeOnSignals(fleet);
  const started = Date.now();
  let duplicatesSent = 0;
  let reconciles = 0;
  let pauses = 0;
  let resumes = 0;
  const faults = new AbortController();
  try {
    fleet.setThrottleRate(0); // seeding and planning are not under test
    const spec = await seedProbe(fleet.ctx, { count: ITEMS, name: 'chaos', thinkMs: Number(args['think-ms']) });
    await planProbe(fleet.ctx, RUN_ID, spec, CHAOS_RETRY);
    fleet.setThrottleRate(THROTTLE);
    log(`planned ${ITEMS} items on ${WORKERS} workers (${fleet.mode}); faults start`);

    const stop = faults.signal;
    let lastDone = -1; // items done at the last status poll (the killer paces itself by it)
    const runOver = () => stop.aborted;
    // Kills are paced by progress as well as by time, so at least MIN_KILLS land while items are
    // moving whatever this machine's speed: one per KILL_EVERY items done, or after 6 s without one.
    const KILL_EVERY = Math.max(1, Math.floor(ITEMS / Math.ceil(MIN_KILLS * 1.5)));
    let nextKillAt = KILL_EVERY;
    const killer = (async () => {
      while (!runOver()) {
        const since = Date.now();
        while (!runOver() && lastDone < nextKillAt && Date.now() - since < 6_000) await sleep(200, stop);
        if (runOver()) break;
        nextKillAt = Math.max(lastDone, 0) + KILL_EVERY;
        const k = Math.floor(Math.random() * WORKERS);
        if (!fleet.isRunning(k)) continue;
        await fleet.killWorker(k);
        await sleep(rand(300, 1000));
        await fleet.restartWorker(k);
      }
    })();
    const duplicator = (async () => {
      while (!runOver()) {
        await sleep(2000, stop);
        const refs = Array.from({ length: 20 }, () => ({
          runId: RUN_ID,
          itemId: probeItemId(Math.floor(Math.random() * ITEMS)),
        }));
        try {
          await fleet.ctx.queue.sendItems(refs);
          duplicatesSent += refs.length;
        } catch {
          /* SQS may be stalled right now: skip this round */
        }
      }
    })();
    /** Pause the run, wait, resume it: the resume must land whatever the faults are doing. */
    const pauseFor = async (ms: number): Promise<void> => {
      try {
        await controlRun(fleet.ctx, RUN_ID, 'pause');
      } catch (err) {
        log(`pause skipped: ${(err as Error).message}`);
        return;
      }
      pauses++;
      log(`run paused for ${ms / 1000} s`);
      await sleep(ms);
      for (let attempt = 1; ; attempt++) {
        try {
          const r = await controlRun(fleet.ctx, RUN_ID, 'resume');
          resumes++;
          log(`run resumed; ${r.resent} unfinished item(s) re-sent`);
          return;
        } catch (err) {
          if (attempt >= 60) throw err;
          await sleep(1_000);
        }
      }
    };
    const scheduled = (async () => {
      await sleep(8_000, stop);
      if (runOver()) return;
      log(`S3+SQS endpoint stalled for ${OUTAGE_MS / 1000} s`);
      fleet.setServiceMode('fauxqs', 'stall');
      await sleep(OUTAGE_MS);
      fleet.setServiceMode('fauxqs', 'pass');
      await sleep(5_000, stop);
      if (runOver()) return;
      log('DynamoDB emulator killed -9');
      await fleet.killDynamo();
      await sleep(3_000);
      await fleet.restartDynamo();
      log('DynamoDB emulator restarted (on-disk data)');
      await sleep(5_000, stop);
      if (runOver()) return;
      const k = Math.floor(Math.random() * WORKERS);
      log(`host-${k + 1} link cut for 6 s`);
      await fleet.cutLink(k, 6_000);
      await sleep(5_000, stop);
      if (runOver()) return;
      log('DynamoDB endpoint refusing connections for 10 s');
      fleet.setServiceMode('dynamodb', 'refuse');
      await sleep(10_000);
      fleet.setServiceMode('dynamodb', 'pass');
      await sleep(3_000, stop);
      if (runOver()) return;
      // longer than a worker's run-state cache (10 s), so every worker meets the pause
      await pauseFor(12_000);
    })();

    // Wait for the end; if progress stalls for 30 s (longer than any fault or the pause holds it), reconcile (re-send items whose messages are gone).
    let lastProgressAt = Date.now();
    let final: RunStatus;
    try {
      final = await waitForRun(fleet.ctx, RUN_ID, {
        timeoutMs: 15 * 60_000,
        intervalMs: 1000,
        onTick: async (s) => {
          if (s.counts.done !== lastDone) {
            lastDone = s.counts.done;
            lastProgressAt = Date.now();
          } else if (Date.now() - lastProgressAt > 30_000) {
            log(`no progress for 30 s (${JSON.stringify(s.counts)}): reconcile`);
            await logOpenItems(fleet, log);
            const r = await reconcileRun(fleet.ctx, RUN_ID, { graceMs: 10_000 });
            log(`reconcile: ${JSON.stringify(r)}`);
            reconciles++;
            lastProgressAt = Date.now();
          }
        },
      });
    } finally {
      faults.abort();
      await Promise.allSettled([killer, duplicator, scheduled]);
    }
    for (const name of ['fauxqs', 'dynamodb'] as const) fleet.setServiceMode(name, 'pass');
    fleet.setThrottleRate(0);
    await fleet.stopWorkers();
    final = await runStatus(fleet.ctx, RUN_ID);

    // --- checks -------------------------------------------------------------------------------
    const failedWithoutClass: string[] = [];
    for await (const page of itemsByStatus(fleet.ctx.items, RUN_ID, 'failed')) {
      for (const item of page) if (!item.lastError?.errorClass) failedWithoutClass.push(item.itemId);
    }
    // Re-attempts read from the items' own histories (exact: the counters of a killed worker die
    // with it): every claim after an item's first is a re-attempt, after a kill (lease expired),
    // a retryable failure, or a release at shutdown. SDK-level retries of throttled requests do
    // not reach the items; injectedErrors counts those.
    const reattempts = { total: 0, afterRetryableFailure: 0, afterLeaseExpiry: 0, itemsReattempted: 0 };
    for await (const page of itemsOfRun(fleet.ctx.items, RUN_ID)) {
      for (const item of page) {
        const h = item.history ?? [];
        const claims = h.filter((e) => e.event === 'claimed').length;
        if (claims > 1) reattempts.itemsReattempted++;
        reattempts.total += Math.max(0, claims - 1);
        reattempts.afterRetryableFailure += h.filter((e) => e.event === 'retry').length;
        // a claim that follows another claim with no completion, failure or release between: the lease ran out
        for (let i = 1; i < h.length; i++)
          if (h[i]!.event === 'claimed' && h[i - 1]!.event === 'claimed') reattempts.afterLeaseExpiry++;
      }
    }
    const verify = await verifyProbe(fleet.ctx, RUN_ID, spec);
    const lost = ITEMS - final.counts.done - final.counts.failed;
    const injected = fleet.injectedErrors();
    const outages = fleet.counts.serviceOutages;
    const checks = {
      noItemLost: lost === 0 && final.total === ITEMS,
      everyFailureClassified: failedWithoutClass.length === 0,
      noDuplicateEffects: (verify.counts.registered_twice ?? 0) === 0,
      noMissingEffects:
        (verify.counts.unregistered ?? 0) === 0 &&
        (verify.counts.missing ?? 0) === 0 &&
        (verify.counts.differs ?? 0) === 0,
      enoughKills: fleet.counts.kills >= MIN_KILLS,
      outageHappened: outages >= 1,
      dynamoRestarted: fleet.counts.dynamoRestarts >= 1,
      throttlingInjected: THROTTLE === 0 || Object.values(injected).reduce((a, b) => a + b, 0) > 0,
      resumedAfterPause: resumes === pauses,
    };
    const result = {
      date: new Date().toISOString(),
      mode: short ? 'short' : 'full',
      machine: { cores: os.cpus().length, loadAverage: os.loadavg(), network: fleet.mode },
      settings: { items: ITEMS, workers: WORKERS, throttleRate: THROTTLE, outageMs: OUTAGE_MS, minKills: MIN_KILLS },
      seconds: Math.round((Date.now() - started) / 1000),
      counts: {
        ...final.counts,
        lost,
        failuresByClass: final.failuresByClass,
        kills: fleet.counts.kills,
        restarts: fleet.counts.restarts,
        serviceOutages: outages,
        linkCuts: fleet.counts.linkCuts,
        dynamoRestarts: fleet.counts.dynamoRestarts,
        injectedErrors: injected,
        duplicateDeliveriesSent: duplicatesSent,
        itemReattempts: reattempts,
        reconciles,
        pauses,
      },
      verify: verify.counts,
      checks,
      passed: Object.values(checks).every(Boolean),
    };
    process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    mkdirSync(path.dirname(args.out!), { recursive: true });
    writeFileSync(args.out!, JSON.stringify(result, null, 2) + '\n');
    if (!result.passed)
      log(
        `FAILED: ${Object.entries(checks)
          .filter(([, ok]) => !ok)
          .map(([k]) => k)
          .join(', ')}; logs kept in ${fleet.workDir}`,
      );
    await fleet.close({ keepWorkDir: !result.passed });
    return result.passed ? 0 : 1;
  } catch (err) {
    faults.abort();
    log(`error: ${(err as Error).stack ?? err}; logs kept in ${fleet.workDir}`);
    await fleet.close({ keepWorkDir: true });
    return 1;
  }
}

/**
 * What a stall is made of: every open item's row as the table has it (status, times relative to
 * now, the last history entries), so that a run whose items wait for a reconcile says why in the
 * CI log (a message lost, a lease not expiring, a retry not due).
 */
async function logOpenItems(fleet: Fleet, say: (msg: string) => void): Promise<void> {
  const now = Date.now();
  const ago = (ms: number | undefined) => (ms === undefined ? '-' : `${Math.round((ms - now) / 100) / 10}s`);
  for (const status of ['pending', 'leased', 'retrying'] as const) {
    for await (const page of itemsByStatus(fleet.ctx.items, RUN_ID, status)) {
      for (const item of page.slice(0, 20)) {
        const row = item as typeof item & { sentAtMs?: number };
        const history = (item.history ?? [])
          .slice(-4)
          .map(
            (h) =>
              `${h.event}${h.errorClass ? `(${h.errorClass})` : ''}@${ago(h.atMs)}${h.worker ? `/${h.worker}` : ''}`,
          );
        say(
          `  open ${item.itemId} ${item.status} attempts=${item.attempts} updated=${ago(item.updatedAtMs)} ` +
            `sent=${ago(row.sentAtMs)} lease=${ago(item.leaseExpiresAtMs)} next=${ago(item.nextAttemptAtMs)} ` +
            `history=[${history.join(' ')}]`,
        );
      }
    }
  }
  const depth = await fleet.ctx.queue.depth().catch(() => undefined);
  say(`  queue: ${JSON.stringify(depth)}`);
}

process.exitCode = await main();
