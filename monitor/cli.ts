/**
 * `convoy monitor` (summary, detail views, --watch dashboard) and `convoy serve` (HTTP status
 * and metrics API). Nothing here prompts: every command runs unattended.
 *
 * Group filters: `--group` for any kind, plus one option per group part the kinds declare
 * (`KindPlugin.groupParts`: the uploads kind's `--customer` and `--space`). A part option applies
 * to runs of the kinds that declare it; on another run it is bad input (exit 2).
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { AddressInfo } from 'node:net';
import { action } from '../coordinator/cli/errors.js';
import { withContext } from '../coordinator/cli/globals.js';
import type { ConvoyContext } from '../shared/context.js';
import { InputError } from '../shared/errors.js';
import { getRun, listRuns, type RunRow } from '../state/runs.js';
import type { KindRegistry } from '../worker/job-kind.js';
import { formatFleet, readFleet } from './fleet.js';
import { groupParts, unknownParts, WHOLE_GROUP, type GroupFilter } from './filters.js';
import { SnapshotReader } from './snapshot.js';
import { buildSummary, formatSummary } from './summary.js';
import {
  formatFailedView,
  formatGroupView,
  formatInstances,
  formatStuck,
  instanceViews,
  readFailedView,
  readGroupView,
  readStuckItems,
} from './views.js';

interface MonitorOptions {
  run?: string;
  json?: boolean;
  watch?: boolean;
  interval: number;
  failed?: boolean;
  limit?: number;
  cursor?: string;
  class?: string;
  stuck?: boolean;
  stuckAfter: number;
  instance?: string | true;
  group?: string;
  staleAfter: number;
  goneAfter: number;
  rateWindow: number;
}

function positive(name: string, opts: { integer?: boolean } = {}) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0 || (opts.integer && !Number.isInteger(n))) {
      throw new InvalidArgumentError(
        `${name} must be a positive ${opts.integer ? 'integer' : 'number'}, got "${value}"`,
      );
    }
    return n;
  };
}

/** The group part options: one per part name the kinds declare, with the kinds that declare it. */
function partOptions(kinds: KindRegistry): Array<{ part: string; option: Option }> {
  const declaredBy = new Map<string, string[]>();
  for (const p of kinds.plugins)
    for (const part of p.groupParts ?? []) {
      if (!/^[a-z][a-z0-9-]*$/.test(part) || part === WHOLE_GROUP)
        throw new Error(`job kind ${p.name} names a group part "${part}": use lower-case words other than "group"`);
      declaredBy.set(part, [...(declaredBy.get(part) ?? []), p.name]);
    }
  return [...declaredBy.entries()].map(([part, names]) => ({
    part,
    option: new Option(
      `--${part} <${part}>`,
      `${names.join(', ')}: progress of the groups whose ${part} is this (also filters --failed / --stuck)`,
    ),
  }));
}

export function registerMonitorCommands(program: Command, kinds: KindRegistry): void {
  const parts = partOptions(kinds);
  const monitor = program
    .command('monitor')
    .description(
      `show a run: summary (default), --watch dashboard, or --failed / --stuck / --instance / --group${parts.map((p) => ` / --${p.part}`).join('')} views`,
    )
    .option(
      '--run <id>',
      'run id (default: a table of every active run; the detail views and --instance use the newest run; --watch follows the active runs)',
    )
    .option('--json', 'print JSON (every view)')
    .option(
      '--watch',
      'terminal dashboard refreshed every --interval (one summary line per interval when stdout is not a terminal); q quits',
    )
    .option('--interval <seconds>', 'refresh interval for --watch', positive('--interval'), 2)
    .option('--failed', 'failed items grouped by error class, with ids and messages (all pages unless --limit)')
    .option(
      '--limit <n>',
      'with --failed: one page of at most n items (prints the cursor of the next)',
      positive('--limit', { integer: true }),
    )
    .option('--cursor <token>', 'with --failed: start at this page')
    .option('--class <errorClass>', 'with --failed: only this error class')
    .option('--stuck', 'items whose lease expired, that run longer than --stuck-after, or whose retry is overdue')
    .option('--stuck-after <seconds>', 'no progress for this long counts as stuck', positive('--stuck-after'), 300)
    .option(
      '--instance [label]',
      'workers by instance label (per-worker rates, in flight, heartbeats); a label shows only that instance',
    )
    .option(
      '--group <group>',
      'progress of the groups equal to or under this group (parts joined by "/"; any kind; also filters --failed / --stuck)',
    );
  // commander refuses a part named like another option (--class, --run, ...) when the program is built
  for (const { option } of parts) monitor.addOption(option);
  monitor
    .option(
      '--stale-after <seconds>',
      'a worker without a heartbeat for this long is stale',
      positive('--stale-after'),
      30,
    )
    .option(
      '--gone-after <seconds>',
      'a worker without a heartbeat for this long is gone: no longer listed, only counted',
      positive('--gone-after'),
      600,
    )
    .option(
      '--rate-window <minutes>',
      'minutes the rate and ETA are computed over',
      positive('--rate-window', { integer: true }),
      5,
    )
    .action(
      action(async (opts: MonitorOptions, cmd: Command) =>
        withContext(cmd, async (ctx) => {
          const snapshot = {
            staleAfterMs: opts.staleAfter * 1000,
            goneAfterMs: opts.goneAfter * 1000,
            rateWindowMinutes: opts.rateWindow,
          };
          if (opts.watch) {
            if (opts.failed || opts.stuck || opts.instance || opts.json)
              throw new InputError('--watch shows everything at once; drop --failed / --stuck / --instance / --json');
            // loaded on demand: blessed, hono and prom-client are not needed by the other commands
            const { watch } = await import('./watch.js');
            await watch(ctx, {
              runId: opts.run,
              intervalMs: opts.interval * 1000,
              stuckAfterMs: opts.stuckAfter * 1000,
              snapshot,
            });
            return;
          }
          const print = (json: unknown, text: () => string): void =>
            void process.stdout.write((opts.json ? JSON.stringify(json, null, 2) : text()) + '\n');
          // the group filter: --group and the part options given, by part name
          const given = opts as unknown as Record<string, string | undefined>;
          const group: GroupFilter = Object.fromEntries(
            [
              [WHOLE_GROUP, opts.group] as const,
              ...parts.map((p) => [p.part, given[p.option.attributeName()]] as const),
            ].filter(([, v]) => v !== undefined),
          );
          const grouped = Object.keys(group).length > 0;
          const detail = opts.failed || opts.stuck || opts.instance !== undefined || grouped;
          if (!opts.run && !detail) {
            const v = await readFleet(ctx, new SnapshotReader(ctx, { seriesMinutes: 0, ...snapshot, exact: true }));
            return print(v, () => formatFleet(v));
          }
          const run = await resolveRun(ctx, opts.run);
          const runId = run.runId;
          const kindParts = groupParts(ctx.kinds.groupParts(run.kind));
          checkGroupFilter(run, group, kindParts);
          if (opts.failed) return printFailed(ctx, runId, opts, group, kindParts);
          if (opts.stuck) {
            const items = await readStuckItems(ctx, runId, {
              stuckAfterMs: opts.stuckAfter * 1000,
              group,
              parts: kindParts,
            });
            return print({ runId, stuckAfterMs: opts.stuckAfter * 1000, items }, () =>
              formatStuck(items, opts.stuckAfter * 1000),
            );
          }
          if (grouped) {
            const v = await readGroupView(ctx, runId, group, kindParts);
            return print(v, () => formatGroupView(v));
          }
          const s = await buildSummary(ctx, runId, snapshot);
          if (opts.instance !== undefined) {
            const views = instanceViews(s, opts.instance === true ? undefined : opts.instance);
            return print({ runId, instances: views }, () => formatInstances(views));
          }
          print(s, () => formatSummary(s));
        }),
      ),
    );

  program
    .command('serve')
    .description(
      'HTTP status and metrics API: GET /runs, /runs/:id, /runs/:id/failed, /runs/:id/stuck, /metrics; POST /runs/:id/requeue, /pause, /resume, /cancel (bearer token)',
    )
    .option('--host <host>', 'address to bind', '127.0.0.1')
    .option(
      '--port <port>',
      'port (0 = any free port)',
      (v) => {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 0 || n > 65535)
          throw new InvalidArgumentError(`--port must be an integer from 0 to 65535, got "${v}"`);
        return n;
      },
      8080,
    )
    .option(
      '--stale-after <seconds>',
      'a worker without a heartbeat for this long is stale',
      positive('--stale-after'),
      30,
    )
    .action(
      action(async (opts: { host: string; port: number; staleAfter: number }, cmd: Command) =>
        withContext(cmd, async (ctx) => {
          const token = ctx.config.apiToken;
          const [{ serve }, { createApiApp }] = await Promise.all([import('@hono/node-server'), import('./api.js')]);
          const app = createApiApp(ctx, { token, snapshot: { staleAfterMs: opts.staleAfter * 1000 } });
          const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
            const s = serve({ fetch: app.fetch, hostname: opts.host, port: opts.port }, () => resolve(s));
            s.once('error', (err) =>
              reject(new InputError(`cannot listen on ${opts.host}:${opts.port}: ${err.message}`, { cause: err })),
            );
          });
          const { port } = server.address() as AddressInfo;
          if (!['127.0.0.1', '::1', 'localhost'].includes(opts.host))
            ctx.log.warn({ host: opts.host }, 'serving beyond loopback: put it behind TLS and a firewall');
          process.stdout.write(
            `convoy serve: listening on http://${opts.host}:${port} (requeue ${token ? 'enabled, bearer token required' : 'disabled: no api token configured'})\n`,
          );
          await new Promise<void>((resolve) => {
            process.once('SIGINT', resolve);
            process.once('SIGTERM', resolve);
          });
          await new Promise<void>((resolve) => {
            server.close(() => resolve());
            (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
          });
        }),
      ),
    );
}

async function resolveRun(ctx: ConvoyContext, runId: string | undefined): Promise<RunRow> {
  if (runId) {
    const run = await getRun(ctx.meta, runId);
    if (!run) throw new InputError(`run "${runId}" not found; list runs with \`convoy status\``);
    return run;
  }
  const newest = (await listRuns(ctx.meta))[0];
  if (!newest) throw new InputError('no runs yet; create one with `convoy plan`');
  return newest;
}

/** A part option the run's kind does not name is bad input: say which parts its groups have. */
function checkGroupFilter(run: RunRow, group: GroupFilter, parts: readonly string[]): void {
  const unknown = unknownParts(group, parts);
  if (!unknown.length) return;
  const named = parts.filter((p) => p !== WHOLE_GROUP);
  throw new InputError(
    `${unknown.map((u) => `--${u}`).join(', ')} ${unknown.length > 1 ? 'do' : 'does'} not apply to run "${run.runId}" (kind ${run.kind}): ` +
      (named.length
        ? `its groups are ${named.join('/')}; filter with ${named.map((p) => `--${p}`).join(', ')} or --group`
        : 'its groups have one part; filter with --group'),
  );
}

async function printFailed(
  ctx: ConvoyContext,
  runId: string,
  opts: MonitorOptions,
  group: GroupFilter,
  parts: readonly string[],
): Promise<void> {
  const base = { errorClass: opts.class, group, parts };
  if (opts.limit !== undefined || opts.cursor !== undefined) {
    const v = await readFailedView(ctx, runId, { ...base, limit: opts.limit ?? 100, cursor: opts.cursor });
    process.stdout.write((opts.json ? JSON.stringify(v, null, 2) : formatFailedView(v)) + '\n');
    return;
  }
  // Every page, printed as it is read (JSON: one page object per line).
  let cursor: string | undefined;
  do {
    const v = await readFailedView(ctx, runId, { ...base, limit: 500, cursor });
    if (opts.json) process.stdout.write(JSON.stringify(v) + '\n');
    else if (v.items.length || v.byClass)
      process.stdout.write(formatFailedView({ ...v, nextCursor: undefined }) + '\n');
    cursor = v.nextCursor;
  } while (cursor);
}
