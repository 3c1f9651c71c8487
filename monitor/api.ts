/**
 * The HTTP status and metrics API (`convoy serve`), a hono app tested in-process with
 * `app.request()`:
 *   GET  /healthz                 liveness
 *   GET  /runs                    runs, newest first
 *   GET  /runs/:id                a run's snapshot (counts, rate, ETA, queue, workers, failures)
 *   GET  /runs/:id/failed         failed items, paged (?limit, ?cursor, ?class, ?group, and the run's
 *                                 kind's group parts by name, e.g. ?customer, ?space for uploads)
 *   GET  /runs/:id/stuck          stuck items (?stuckAfterMs)
 *   POST /runs/:id/requeue        requeue failed items ({errorClass?, itemId?}); bearer token
 *   POST /runs/:id/pause|resume|cancel   run control (coordinator/run-control.ts); bearer token
 *   POST /runs/:id/tune           live settings ({concurrency?, bwlimit?, tpslimit?, maxFailed?}, each a
 *                                 value or "off"; coordinator/tune.ts); bearer token
 *   GET  /metrics                 Prometheus text (prom-client)
 * The writes go through coordinator/requeue.ts and coordinator/run-control.ts, and exist only when
 * a token is configured: without one the routes answer 403 and say how to configure it.
 */
import { Hono, type Context } from 'hono';
import { bearerAuth } from 'hono/bearer-auth';
import { HTTPException } from 'hono/http-exception';
import * as z from 'zod';
import { requeueFailed } from '../coordinator/requeue.js';
import { controlRun } from '../coordinator/run-control.js';
import { parseTuneInput, tuneRun } from '../coordinator/tune.js';
import { classifyError, ConvoyError, InputError } from '../shared/errors.js';
import { getRun, listRuns, type RunRow } from '../state/runs.js';
import { statusKeysFor } from '../state/schema.js';
import { decodeCursor } from '../state/views.js';
import type { EngineContext } from '../worker/job-kind.js';
import { groupParts, WHOLE_GROUP, type GroupFilter } from './filters.js';
import { RunMetrics } from './run-metrics.js';
import { SnapshotReader, type SnapshotOptions } from './snapshot.js';
import { readFailedView, readStuckItems } from './views.js';

export interface ApiOptions {
  /** bearer token for POST routes; without it they are disabled (403) */
  token?: string;
  snapshot?: SnapshotOptions;
  /** default threshold for /stuck. @defaultValue 300000 */
  stuckAfterMs?: number;
  /** finished runs stay in /metrics this long. @defaultValue 3600000 */
  metricsKeepFinishedMs?: number;
}

const tuneValue = z.union([z.string(), z.number()]);
const tuneBody = z
  .object({
    concurrency: tuneValue.optional(),
    bwlimit: tuneValue.optional(),
    tpslimit: tuneValue.optional(),
    maxFailed: tuneValue.optional(),
  })
  .strict();

const requeueBody = z
  .object({ errorClass: z.string().min(1).optional(), itemId: z.string().min(1).optional() })
  .strict();

/** The documented minimum: a shorter token can be guessed by anyone who can reach the port. */
export const MIN_TOKEN_LENGTH = 16;

export function createApiApp(ctx: EngineContext, opts: ApiOptions = {}): Hono {
  if (opts.token !== undefined && opts.token.length < MIN_TOKEN_LENGTH) {
    throw new InputError(
      `the API token (CONVOY_API_TOKEN or "api": {"token"} in the config file) has ${opts.token.length} characters; ` +
        `use at least ${MIN_TOKEN_LENGTH} (for example: openssl rand -hex 24)`,
    );
  }
  const reader = new SnapshotReader(ctx, { seriesMinutes: 0, ...opts.snapshot });
  const metrics = new RunMetrics();
  const app = new Hono();

  app.onError((err, c) => {
    if (err instanceof HTTPException) return err.getResponse(); // 401 from bearerAuth
    const e = err instanceof ConvoyError ? err : classifyError(err);
    const status = e instanceof InputError ? (/not found/.test(e.message) ? 404 : 400) : e.retryable ? 503 : 500;
    if (status >= 500)
      ctx.log.warn({ errorClass: e.errorClass, err: e.message, path: c.req.path }, 'api request failed');
    return c.json({ error: e.errorClass, message: e.message }, status);
  });

  app.get('/healthz', (c) => c.json({ ok: true }));

  app.get('/runs', async (c) => c.json({ runs: await listRuns(ctx.meta) }));

  app.get('/runs/:id', async (c) => c.json(await reader.read(c.req.param('id'))));

  app.get('/runs/:id/failed', async (c) => {
    const run = await existingRun(ctx, c.req.param('id'));
    const runId = run.runId;
    const limit = intParam(c, 'limit', 100, 1, 1000);
    const q = c.req.query();
    if (q.cursor !== undefined) checkFailedCursor(runId, q.cursor);
    const parts = groupParts(ctx.kinds.groupParts(run.kind));
    return c.json(
      await readFailedView(ctx, runId, {
        limit,
        cursor: q.cursor,
        errorClass: q.class,
        group: groupQuery(ctx, run, q, parts),
        parts,
      }),
    );
  });

  app.get('/runs/:id/stuck', async (c) => {
    const { runId } = await existingRun(ctx, c.req.param('id'));
    const stuckAfterMs = intParam(c, 'stuckAfterMs', opts.stuckAfterMs ?? 300_000, 0, 30 * 86_400_000);
    return c.json({ runId, stuckAfterMs, items: await readStuckItems(ctx, runId, { stuckAfterMs, limit: 1000 }) });
  });

  if (opts.token) {
    app.post('/runs/:id/requeue', bearerAuth({ token: opts.token }), async (c) => {
      const runId = c.req.param('id'); // requeueFailed reads the run: unknown -> 404, cancelled -> 400
      const body = requeueBody.safeParse(await jsonBody(c));
      if (!body.success)
        throw new InputError(
          `request body must be {"errorClass"?: string, "itemId"?: string}: ${body.error.issues.map((i) => i.message).join('; ')}`,
        );
      const result = await requeueFailed(ctx, { runId, ...body.data });
      ctx.log.info({ runId, ...body.data, requeued: result.requeued }, 'requeue through the API');
      return c.json({ runId, ...result });
    });
    app.post('/runs/:id/tune', bearerAuth({ token: opts.token }), async (c) => {
      const body = tuneBody.safeParse(await jsonBody(c));
      if (!body.success)
        throw new InputError(
          `request body must be {"concurrency"?, "bwlimit"?, "tpslimit"?, "maxFailed"?} (each a value or "off"): ${body.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ')}`,
        );
      const changes = parseTuneInput(body.data);
      const result = await tuneRun(ctx, c.req.param('id'), changes, (kind) => ctx.kinds.plugin(kind).rateLimits, 'api');
      ctx.log.info({ runId: result.runId, changes: result.changes }, 'tune through the API');
      return c.json(result);
    });
    for (const action of ['pause', 'resume', 'cancel'] as const) {
      app.post(`/runs/:id/${action}`, bearerAuth({ token: opts.token }), async (c) => {
        const result = await controlRun(ctx, c.req.param('id'), action);
        ctx.log.info({ ...result }, `${action} through the API`);
        return c.json(result);
      });
    }
  } else {
    for (const action of ['requeue', 'pause', 'resume', 'cancel', 'tune']) {
      app.post(`/runs/:id/${action}`, (c) =>
        c.json(
          {
            error: 'WRITES_DISABLED',
            message: `${action} is disabled: no API token configured; set CONVOY_API_TOKEN or "api": {"token": ...} in the config file`,
          },
          403,
        ),
      );
    }
  }

  app.get('/metrics', async (c) => {
    const now = ctx.now();
    const keep = opts.metricsKeepFinishedMs ?? 3_600_000;
    const runs = (await listRuns(ctx.meta)).filter((r) => isActive(r, now, keep));
    const snapshots = await Promise.all(runs.map((r) => reader.read(r.runId)));
    return c.body(await metrics.render(snapshots), 200, { 'content-type': metrics.registry.contentType });
  });

  return app;
}

function isActive(r: RunRow, now: number, keepFinishedMs: number): boolean {
  return (
    r.state === 'planning' ||
    r.state === 'running' ||
    r.state === 'paused' ||
    now - (r.finishedAtMs ?? r.updatedAtMs) < keepFinishedMs
  );
}

async function existingRun(ctx: EngineContext, runId: string): Promise<RunRow> {
  const run = await getRun(ctx.meta, runId);
  if (!run) throw new InputError(`run "${runId}" not found; GET /runs lists them`);
  return run;
}

/**
 * The group filter of a query: ?group and the run's kind's part names. A part that another kind
 * declares but this run's kind does not is a bad request (400) naming the parts it has; any other
 * parameter is not a group filter.
 */
function groupQuery(ctx: EngineContext, run: RunRow, q: Record<string, string>, parts: readonly string[]): GroupFilter {
  const known = new Set(ctx.kinds.plugins.flatMap((p) => p.groupParts ?? []));
  const wrong = Object.keys(q).filter((k) => known.has(k) && !parts.includes(k));
  if (wrong.length)
    throw new InputError(
      `query parameter ${wrong.join(', ')} does not apply to run "${run.runId}" (kind ${run.kind}): its groups' parts are ${parts.join('/')}; use those or ?group`,
    );
  return Object.fromEntries([WHOLE_GROUP, ...parts].filter((k) => q[k] !== undefined).map((k) => [k, q[k]]));
}

function intParam(c: Context, name: string, dflt: number, min: number, max: number): number {
  const raw = c.req.query(name);
  if (raw === undefined || raw === '') return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new InputError(`query parameter ${name} must be an integer from ${min} to ${max}, got "${raw}"`);
  return n;
}

/**
 * The request body as JSON: an empty body is `{}` (requeue everything failed), anything else must
 * parse. A body that does not parse is refused, never read as "no filter": that would requeue
 * every failed item of the run when the caller asked for a few.
 */
async function jsonBody(c: Context): Promise<unknown> {
  const text = await c.req.text();
  if (!text.trim()) return {};
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new InputError(
      `request body is not valid JSON (${(err as Error).message}); send {"errorClass"?: string, "itemId"?: string}, or no body to requeue every failed item`,
    );
  }
}

/**
 * A ?cursor= is only ever one this API returned as nextCursor: a failed-status index position of
 * this run. Anything else (edited, from another run, made up) is bad input, not a failed query.
 */
export function checkFailedCursor(runId: string, token: string): void {
  const c = decodeCursor(token);
  const keys = statusKeysFor(runId, 'failed');
  const key = c?.key;
  const keyOk =
    key === undefined ||
    (typeof key === 'object' &&
      key !== null &&
      Object.keys(key).sort().join(',') === 'itemId,runId,statusKey' &&
      key.runId === runId &&
      typeof key.itemId === 'string' &&
      key.statusKey === keys[c!.shard]);
  if (!c || !keyOk)
    throw new InputError(
      `query parameter cursor "${token.slice(0, 80)}" is not a cursor of run ${runId}'s failed items; use the nextCursor of the previous page, or drop it to start at the first`,
    );
}
