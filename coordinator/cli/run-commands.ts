/**
 * Run-level commands: status, requeue, reconcile, verify, pause, resume, cancel.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { InputError } from '../../shared/errors.js';
import { getRun, listRuns, RUN_STATE_TTL_MS } from '../../state/runs.js';
import { loadJobKind } from '../../worker/jobs/registry.js';
import '../../worker/jobs/builtin.js';
import { reconcileRun } from '../reconcile.js';
import { requeueFailed } from '../requeue.js';
import { controlRun, PAST, type RunControlAction } from '../run-control.js';
import { formatStatus, runStatus } from '../status.js';
import { action } from './errors.js';
import { withContext as ctxOf } from './globals.js';


export function registerRunCommands(program: Command): void {
  program
    .command('status')
    .description('print a run\'s items by status and its failures by error class (no --run: list runs)')
    .option('--run <id>', 'run id')
    .option('--json', 'print JSON')
    .action(
      action(async (opts: { run?: string; json?: boolean }, cmd: Command) =>
        ctxOf(cmd, async (ctx) => {
          if (!opts.run) {
            const runs = await listRuns(ctx.meta);
            if (opts.json) process.stdout.write(JSON.stringify(runs, null, 2) + '\n');
            else for (const r of runs) process.stdout.write(`${r.runId}  ${r.kind.padEnd(14)} ${r.state.padEnd(10)} items=${r.plannedItems}  ${new Date(r.createdAtMs).toISOString()}\n`);
            return;
          }
          const s = await runStatus(ctx, opts.run);
          process.stdout.write((opts.json ? JSON.stringify(s, null, 2) : formatStatus(s)) + '\n');
        }),
      ),
    );

  program
    .command('requeue')
    .description('put failed items (and their DLQ messages) back on the queue')
    .requiredOption('--run <id>', 'run id')
    .option('--class <errorClass>', 'only items that failed with this error class')
    .option('--item <itemId>', 'only this item')
    .action(
      action(async (opts: { run: string; class?: string; item?: string }, cmd: Command) =>
        ctxOf(cmd, async (ctx) => {
          const r = await requeueFailed(ctx, { runId: opts.run, errorClass: opts.class, itemId: opts.item });
          process.stdout.write(`requeued ${r.requeued} item(s); removed ${r.dlqMessagesRemoved} DLQ message(s)\n`);
        }),
      ),
    );

  program
    .command('reconcile')
    .description('re-send items that are pending, due for retry, or whose lease expired (messages lost)')
    .requiredOption('--run <id>', 'run id')
    .option('--grace-ms <ms>', 'only items untouched for this long', '0')
    .action(
      action(async (opts: { run: string; graceMs: string }, cmd: Command) =>
        ctxOf(cmd, async (ctx) => {
          if (!(await getRun(ctx.meta, opts.run))) throw new InputError(`run "${opts.run}" not found`);
          const r = await reconcileRun(ctx, opts.run, { graceMs: Number(opts.graceMs) });
          process.stdout.write(`re-sent ${r.resent} item(s): ${r.pending} pending, ${r.retrying} retrying, ${r.expiredLeases} with expired leases\n`);
        }),
      ),
    );

  const controls: Array<[RunControlAction, string]> = [
    ['pause', "stop workers taking the run's items (those in flight finish); nothing is spent or lost"],
    ['resume', "let workers take a paused run's items again (its unfinished items are re-sent)"],
    ['cancel', "end a run for good: items still to do fail with RUN_CANCELLED as workers take them (those in flight finish)"],
  ];
  for (const [name, description] of controls) {
    program
      .command(name)
      .description(description)
      .requiredOption('--run <id>', 'run id')
      .action(
        action(async (opts: { run: string }, cmd: Command) =>
          ctxOf(cmd, async (ctx) => {
            const r = await controlRun(ctx, opts.run, name);
            const resent = r.resent !== undefined ? `; re-sent ${r.resent} unfinished item(s)` : '';
            process.stdout.write(`run ${r.runId} ${PAST[name]} (was ${r.from})${resent}; workers see it within ${Math.round(RUN_STATE_TTL_MS / 1000)} s\n`);
          }),
        ),
      );
  }

  program
    .command('verify')
    .description('compare a run\'s source and destination; writes a JSONL report; exit 1 on differences')
    .requiredOption('--run <id>', 'run id')
    .option('--report <file>', 'report path (default <state-dir>/reports/<run>-verify.jsonl)')
    .action(
      action(async (opts: { run: string; report?: string }, cmd: Command) =>
        ctxOf(cmd, async (ctx) => {
          const run = await getRun(ctx.meta, opts.run);
          if (!run) throw new InputError(`run "${opts.run}" not found`);
          const kind = await loadJobKind(run.kind);
          if (!kind.verify) throw new InputError(`job kind ${run.kind} has no verifier`);
          const reportPath = opts.report ?? path.join(ctx.config.stateDir, 'reports', `${opts.run}-verify.jsonl`);
          mkdirSync(path.dirname(reportPath), { recursive: true });
          const summary = await kind.verify(run, kind.specSchema.parse(run.spec), ctx, { reportPath, log: ctx.log });
          process.stdout.write(summary.lines.join('\n') + `\nreport: ${summary.reportPath}\n`);
          return summary.clean ? 0 : 1;
        }),
      ),
    );
}
