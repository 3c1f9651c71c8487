/**
 * s3-sync runs the way an operator does them: `convoy plan s3-sync ...` and one `convoy worker`
 * process (the real CLI from dist/) that serves every run of a test, since starting a worker
 * process is most of the cost of a small run. A run is waited for by polling its state.
 */
import { expect } from 'vitest';
import { runStatus } from '../../coordinator/status.js';
import { itemsOfRun } from '../../state/item-bulk.js';
import { exited, runCli, spawnWorker } from '../helpers/cli.js';
import { waitUntil, type TestEnv } from '../helpers/stack.js';

export interface CliFleet {
  /** `convoy plan s3-sync --run <id> ...args`, then wait until the run is done; its status */
  run(runId: string, planArgs: string[], opts?: { timeoutMs?: number }): Promise<Awaited<ReturnType<typeof runStatus>>>;
  /** SIGTERM the worker: it must exit 0 */
  stop(): Promise<void>;
}

export function cliFleet(env: TestEnv, config: string): CliFleet {
  const worker = spawnWorker(config, ['--wait-seconds', '1', '--concurrency', '4', '--transfers', '16']);
  return {
    async run(runId, planArgs, opts = {}) {
      const plan = await runCli(['plan', 's3-sync', '--run', runId, ...planArgs], { config });
      expect(plan.stderr, 'plan').toBe('');
      expect(plan.code, plan.stdout).toBe(0);
      try {
        await waitUntil(async () => (await runStatus(env.ctx, runId)).run.state === 'done', {
          timeoutMs: opts.timeoutMs ?? 90_000,
          intervalMs: 200,
          what: `run ${runId} done`,
        });
      } catch (err) {
        const errors: unknown[] = [];
        for await (const page of itemsOfRun(env.ctx.items, runId))
          for (const i of page) if (i.lastError) errors.push({ item: i.itemId, status: i.status, ...i.lastError });
        throw new Error(
          `${(err as Error).message}\nstatus: ${JSON.stringify((await runStatus(env.ctx, runId)).counts)}\nerrors: ${JSON.stringify(errors.slice(0, 5))}\nworker: ${worker.output()}`,
        );
      }
      return runStatus(env.ctx, runId);
    },
    async stop() {
      worker.kill('SIGTERM');
      expect(await exited(worker), worker.output()).toBe(0);
    },
  };
}

/** The run's item metrics added up (item rows are final when the run is done; counters lag). */
export async function itemTotals(env: TestEnv, runId: string): Promise<Record<string, number>> {
  const totals: Record<string, number> = {};
  for await (const page of itemsOfRun(env.ctx.items, runId)) {
    for (const item of page)
      for (const [k, v] of Object.entries(item.metrics ?? {}))
        if (typeof v === 'number') totals[k] = (totals[k] ?? 0) + v;
  }
  return totals;
}
