/**
 * GSI lag: the status index answers from a copy of the items table a few seconds old (the proxy
 * of ../helpers/lagged-index-proxy.ts, which the CLI processes talk to), while reads and writes
 * of the table itself are current, as on AWS. Each case lets the index catch up with a state,
 * holds it there (a snapshot), changes the items the way a busy fleet would, and drives the real
 * CLI through the proxy before the index has seen those changes. The assertions read the primary
 * dynalite directly: nothing lost, nothing done twice, nothing mis-counted.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { claimItem, failItem, getItem, requeueItem } from '../../state/items.js';
import { itemsOfRun, putItems } from '../../state/item-bulk.js';
import { createRun, getRun } from '../../state/runs.js';
import { runCli, writeCliConfig } from '../helpers/cli.js';
import { LaggedIndexProxy } from '../helpers/lagged-index-proxy.js';
import { freshEnv, startTestStack, type TestEnv, type TestStack } from '../helpers/stack.js';

const TALLY_CLI = path.resolve('dist/test/plugins/convoy-tally-cli.js');
const LAG_MS = 3_000;

let t: TestStack;
let env: TestEnv;
let proxy: LaggedIndexProxy;
/** a config whose DynamoDB endpoint is the proxy */
let config: string;

beforeAll(async () => {
  t = await startTestStack();
}, 60_000);
afterAll(async () => t?.close());
beforeEach(async () => {
  env = await freshEnv(t.stack);
  proxy = await new LaggedIndexProxy({
    primaryPort: Number(new URL(t.stack.endpoints.dynamodb).port),
    tables: [env.names.itemsTable],
    lagMs: LAG_MS,
  }).start();
  config = writeCliConfig(env);
  const file = JSON.parse(readFileSync(config, 'utf8')) as { state: { endpoints: Record<string, string> } };
  file.state.endpoints.dynamodb = proxy.url;
  writeFileSync(config, JSON.stringify(file, null, 2));
});
afterEach(async () => {
  env?.close();
  await proxy?.close();
});

const cli = (args: string[], opts: { tally?: boolean } = {}) =>
  runCli(args, { config, cli: opts.tally ? TALLY_CLI : undefined });

async function rowsOf(runId: string) {
  const rows = [];
  for await (const page of itemsOfRun(env.ctx.items, runId)) rows.push(...page);
  return rows;
}

async function queued(): Promise<number> {
  const d = await env.ctx.queue.depth();
  return d.visible + d.inFlight + d.delayed;
}

/** A run of `n` items, `status` pending, seeded by writing rows (through no proxy). */
async function seed(runId: string, n: number): Promise<Array<{ runId: string; itemId: string }>> {
  await createRun(env.ctx.meta, { runId, kind: 's3-sync', spec: {} });
  const ids = Array.from({ length: n }, (_, i) => `i-${i}`);
  await putItems(
    env.ctx.items,
    runId,
    ids.map((itemId) => ({ itemId, kind: 's3-sync', group: 'g', spec: {} })),
    { skipExisting: false },
  );
  return ids.map((itemId) => ({ runId, itemId }));
}

/** The index catches up with these rows, written around the proxy (by the test, as a fleet would). */
async function indexCatchesUpWith(refs: Array<{ runId: string; itemId: string }>): Promise<void> {
  for (const r of refs) proxy.noteRow(env.names.itemsTable, { runId: { S: r.runId }, itemId: { S: r.itemId } });
  await proxy.caughtUp();
}

describe('decisions that read the status index, with the index a few seconds behind', () => {
  it('a run whose last items ended within the lag is finished, and status and monitor count it done', async () => {
    const plan = await cli(['plan', 'tally', '--bucket', 'lag-b', '--count', '12', '--run', 'lag1'], { tally: true });
    expect(plan.code, plan.stderr).toBe(0);
    // the index has seen the 12 pending items, then stops where it is while the fleet works
    await proxy.caughtUp();
    proxy.hold();

    const worker = await cli(['worker', '--wait-seconds', '1', '--exit-when-idle', '1500', '--run', 'lag1'], {
      tally: true,
    });
    expect(worker.code, worker.stderr).toBe(0);
    const rows = await rowsOf('lag1');
    expect(rows.map((r) => [r.status, r.attempts])).toEqual(Array.from({ length: 12 }, () => ['done', 1]));
    // the finisher's index read still lists 12 pending items: they are re-read, found done, and
    // the run is finished (a stale read used to leave it `running`, with no worker left to check)
    expect((await getRun(env.ctx.meta, 'lag1'))?.state).toBe('done');

    const status = await cli(['status', '--run', 'lag1'], { tally: true });
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toContain('state=done');
    expect(status.stdout).toMatch(/done\s+12\s+100\.0%/);
    expect(status.stdout).toMatch(/pending\s+0\s/);
    const monitor = await cli(['monitor', '--run', 'lag1'], { tally: true });
    expect(monitor.code, monitor.stderr).toBe(0);
    expect(monitor.stdout).toContain('progress: 12/12 done (100.0%), 0 failed');

    // nothing is sent again for items that are done
    const rec = await cli(['reconcile', '--run', 'lag1']);
    expect(rec.code, rec.stderr).toBe(0);
    expect(rec.stdout).toContain('re-sent 0 item(s)');
    expect(await queued()).toBe(0);
    expect(proxy.stats.indexQueries).toBeGreaterThan(0);
  }, 60_000);

  it('reconcile and --stuck leave alone a lease the index still shows expired', async () => {
    const refs = await seed('lag2', 6);
    // a worker died holding them: leases that expired a second ago
    for (const r of refs) expect((await claimItem(env.ctx.items, r, 'w-dead', -1_000)).outcome).toBe('claimed');
    await indexCatchesUpWith(refs);
    proxy.hold();
    // their messages came back and a live worker took them over, with fresh leases
    for (const r of refs) expect((await claimItem(env.ctx.items, r, 'w-live', 600_000)).outcome).toBe('claimed');

    // --grace-ms 0: every lease that has expired counts, however recently
    const rec = await cli(['reconcile', '--run', 'lag2', '--grace-ms', '0']);
    expect(rec.code, rec.stderr).toBe(0);
    expect(rec.stdout).toContain('re-sent 0 item(s)');
    expect(await queued()).toBe(0);
    const stuck = await cli(['monitor', '--run', 'lag2', '--stuck']);
    expect(stuck.code, stuck.stderr).toBe(0);
    expect(stuck.stdout).toContain('no stuck items');
    expect((await rowsOf('lag2')).map((r) => r.leaseOwner)).toEqual(refs.map(() => 'w-live'));
  }, 60_000);

  it('requeue --class matches the class an item has now, not the one the index remembers', async () => {
    const refs = await seed('lag3', 3);
    const fail = async (errorClass: string) => {
      for (const r of refs) {
        expect((await claimItem(env.ctx.items, r, 'w1', 60_000)).outcome).toBe('claimed');
        await failItem(env.ctx.items, r, 'w1', { errorClass, message: errorClass, retryable: false }, { retry: false });
      }
    };
    await fail('ACCESS_DENIED');
    await indexCatchesUpWith(refs);
    proxy.hold();
    // an operator requeued them after fixing the permissions; they failed again, differently
    for (const r of refs) expect(await requeueItem(env.ctx.items, r)).toBe('ok');
    await fail('SERVICE_UNAVAILABLE');

    const stale = await cli(['requeue', '--run', 'lag3', '--class', 'ACCESS_DENIED']);
    expect(stale.code).toBe(2);
    expect(stale.stderr).toContain('class SERVICE_UNAVAILABLE (3)');
    for (const r of refs) expect((await getItem(env.ctx.items, r.runId, r.itemId))?.status).toBe('failed');
    expect(await queued()).toBe(0);

    const now = await cli(['requeue', '--run', 'lag3', '--class', 'SERVICE_UNAVAILABLE']);
    expect(now.code, now.stderr).toBe(0);
    expect(now.stdout).toContain('requeued 3 item(s)');
    expect(await queued()).toBe(3);
    const status = await cli(['status', '--run', 'lag3']);
    expect(status.stdout).toMatch(/pending\s+3\s/);
    expect(status.stdout).toMatch(/failed\s+0\s/);
  }, 60_000);
});
