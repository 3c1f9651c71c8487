/**
 * Run-level commands: status, requeue, reconcile, verify, pause, resume, cancel, tune, report.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { InputError } from '../../shared/errors.js';
import { RUN_STATE_TTL_MS } from '../../shared/config.js';
import { getRun, listRuns } from '../../state/runs.js';
import { RECONCILE_GRACE_MS, reconcileRun } from '../reconcile.js';
import { requeueFailed } from '../requeue.js';
import { controlRun, PAST, type RunControlAction } from '../run-control.js';
import { writeReport } from '../report.js';
import { formatStatus, runStatus } from '../status.js';
import { parseTuneInput, tuneRun, type TuneInput } from '../tune.js';
import { action } from './errors.js';
import { intOption, runIdOption, withContext as ctxOf } from './globals.js';

export function registerRunCommands(program: Command): void {
  program
    .command('status')
    .description("print a run's items by status and its failures by error class (no --run: list runs)")
    .option('--run <id>', 'run id', runIdOption)
    .option('--json', 'print JSON')
    .action(
      action(async (opts: { run?: string; json?: boolean }, cmd: Command) =>
        ctxOf(cmd, async (ctx) => {
          if (!opts.run) {
            const runs = await listRuns(ctx.meta);
            if (opts.json) process.stdout.write(JSON.stringify(runs, null, 2) + '\n');
            else
              for (const r of runs)
                process.stdout.write(
                  `${r.runId}  ${r.kind.padEnd(14)} ${r.state.padEnd(10)} items=${r.plannedItems}  ${new Date(r.createdAtMs).toISOString()}\n`,
                );
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
    .requiredOption('--run <id>', 'run id', runIdOption)
    .option('--class <errorClass>', 'only items that failed with this error class')
    .option('--item <itemId>', 'only this item')
    .action(
      action(async (opts: { run: string; class?: string; item?: string }, cmd: Command) =>
        ctxOf(cmd, async (ctx) => {
          const r = await requeueFailed(ctx, { runId: opts.run, errorClass: opts.class, itemId: opts.item });
          process.stdout.write(
            `requeued ${r.requeued} item(s); removed ${r.dlqMessagesRemoved} DLQ message(s)${r.dlqRedriven ? ` (${r.dlqRedriven} of them for pending items, sent back to the queue)` : ''}\n`,
          );
        }),
      ),
    );

  program
    .command('reconcile')
    .description('re-send items that are pending, due for retry, or whose lease expired (messages lost)')
    .requiredOption('--run <id>', 'run id', runIdOption)
    .option(
      '--grace-ms <ms>',
      'leave alone items sent, touched or due within this long (0: re-send them all)',
      intOption('--grace-ms'),
      RECONCILE_GRACE_MS,
    )
    .action(
      action(async (opts: { run: string; graceMs: number }, cmd: Command) =>
        ctxOf(cmd, async (ctx) => {
          if (opts.graceMs < 0) throw new InputError(`--grace-ms must be 0 or more, got ${opts.graceMs}`);
          if (!(await getRun(ctx.meta, opts.run)))
            throw new InputError(`run "${opts.run}" not found (list runs with \`convoy status\`)`);
          const r = await reconcileRun(ctx, opts.run, { graceMs: opts.graceMs });
          process.stdout.write(
            `re-sent ${r.resent} item(s): ${r.pending} pending, ${r.retrying} retrying, ${r.expiredLeases} with expired leases\n`,
          );
          if (r.recentlySent) {
            process.stdout.write(
              `left ${r.recentlySent} item(s) alone: their message was sent less than ${opts.graceMs} ms ago and the queue is not empty (--grace-ms 0 re-sends them too)\n`,
            );
          }
          if (r.dlqRedriven || r.dlqRemoved) {
            process.stdout.write(
              `DLQ: sent ${r.dlqRedriven ?? 0} unfinished item(s) back to the queue; removed ${r.dlqRemoved ?? 0} stale message(s)\n`,
            );
          }
        }),
      ),
    );

  const controls: Array<[RunControlAction, string]> = [
    ['pause', "stop workers taking the run's items (those in flight finish); nothing is spent or lost"],
    ['resume', "let workers take a paused run's items again (its unfinished items are re-sent)"],
    [
      'cancel',
      'end a run for good: items still to do fail with RUN_CANCELLED as workers take them (those in flight finish)',
    ],
  ];
  for (const [name, description] of controls) {
    program
      .command(name)
      .description(description)
      .requiredOption('--run <id>', 'run id', runIdOption)
      .action(
        action(async (opts: { run: string }, cmd: Command) =>
          ctxOf(cmd, async (ctx) => {
            const r = await controlRun(ctx, opts.run, name);
            const resent = r.resent !== undefined ? `; re-sent ${r.resent} unfinished item(s)` : '';
            process.stdout.write(
              `run ${r.runId} ${PAST[name]} (was ${r.from})${resent}; workers see it within ${Math.round(RUN_STATE_TTL_MS / 1000)} s\n`,
            );
          }),
        ),
      );
  }

  program
    .command('tune')
    .description(
      "change a running run's settings; workers apply them within 10 s and the run's history records each change",
    )
    .requiredOption('--run <id>', 'run id', runIdOption)
    .option('--concurrency <n>', "the run's items in flight across the fleet (split across its workers), or off")
    .option(
      '--bwlimit <size>',
      'bytes copied per second by the whole fleet, e.g. 50MiB, or off (kinds with a byte limit)',
    )
    .option('--tpslimit <n>', 'objects copied per second by the whole fleet, or off (kinds with an object limit)')
    .option(
      '--max-failed <n|p%>',
      'failed items tolerated before the run pauses itself (a count or a percentage), or off',
    )
    .action(
      action(async (opts: TuneInput & { run: string }, cmd: Command) => {
        const { run, ...input } = opts;
        const changes = parseTuneInput(input); // before any client is made: bad input writes nothing
        return ctxOf(cmd, async (ctx) => {
          const r = await tuneRun(ctx, run, changes, (kind) => ctx.kinds.plugin(kind).rateLimits, 'cli');
          const said = Object.entries(r.changes).map(([k, c]) => `${k} ${show(c!.from)} -> ${show(c!.to)}`);
          process.stdout.write(
            `run ${r.runId} tuned (version ${r.tuneVersion}): ${said.join(', ') || 'no change'}; workers apply it within ${Math.round(RUN_STATE_TTL_MS / 1000)} s\n`,
          );
          if (r.paused)
            process.stdout.write(`run ${r.runId} paused: its failed items already pass the new --max-failed\n`);
        });
      }),
    );

  program
    .command('report')
    .description(
      'write every item (or every failed one) with its status, error class, HTTP status, message and attempts',
    )
    .requiredOption('--run <id>', 'run id', runIdOption)
    .option('--failed-only', 'only the failed items')
    .option('--format <format>', 'csv or ndjson', 'csv')
    .option('--gzip', 'gzip the report')
    .option('--out <file|s3://bucket/key>', 'where to write it (default: stdout)')
    .option('--remote <name>', 'the remote an s3:// --out is written to (default: the only remote configured)')
    .action(
      action(
        async (
          opts: { run: string; failedOnly?: boolean; format: string; gzip?: boolean; out?: string; remote?: string },
          cmd: Command,
        ) =>
          ctxOf(cmd, async (ctx) => {
            const r = await writeReport(ctx, { ...opts, runId: opts.run }, process.stdout);
            if (r.destination !== 'stdout')
              process.stderr.write(`report of run ${opts.run}: ${r.rows} item(s) written to ${r.destination}\n`);
          }),
      ),
    );

  program
    .command('verify')
    .description("compare a run's source and destination; writes a JSONL report; exit 1 on differences")
    .requiredOption('--run <id>', 'run id', runIdOption)
    .option('--report <file>', 'report path (default <state-dir>/reports/<run>-verify.jsonl)')
    .option(
      '--allow-extra',
      'destination objects/rows the source lacks are reported but not a difference (e.g. kept on purpose)',
    )
    .action(
      action(async (opts: { run: string; report?: string; allowExtra?: boolean }, cmd: Command) =>
        ctxOf(cmd, async (ctx) => {
          const run = await getRun(ctx.meta, opts.run);
          if (!run) throw new InputError(`run "${opts.run}" not found`);
          const kind = await ctx.kinds.job(run.kind);
          if (!kind.verify) throw new InputError(`job kind ${run.kind} has no verifier`);
          const reportPath = opts.report ?? defaultReportPath(ctx.config.stateDir, opts.run);
          mkdirSync(path.dirname(reportPath), { recursive: true });
          const verifyOpts = { reportPath, log: ctx.log, allowExtra: opts.allowExtra === true };
          const summary = await kind.verify(run, kind.specSchema.parse(run.spec), ctx, verifyOpts);
          process.stdout.write(summary.lines.join('\n') + `\nreport: ${summary.reportPath}\n`);
          return summary.clean ? 0 : 1;
        }),
      ),
    );
}

/** A tuned value as the tune command prints it. */
function show(v: unknown): string {
  if (v === null) return 'off';
  if (typeof v === 'object' && v) return 'count' in v ? String(v.count) : `${(v as { percent: number }).percent}%`;
  return String(v);
}

/**
 * The default verify report of a run, always inside <state-dir>/reports: the run id is checked
 * where it is read, and this check keeps a bad one from ever naming a file elsewhere.
 */
export function defaultReportPath(stateDir: string, runId: string): string {
  const dir = path.resolve(stateDir, 'reports');
  const file = path.resolve(dir, `${runId}-verify.jsonl`);
  if (path.dirname(file) !== dir)
    throw new InputError(`--run "${runId}" cannot name a report file in ${dir}; give --report FILE`);
  return file;
}
