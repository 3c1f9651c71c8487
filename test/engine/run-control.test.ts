/**
 * Pausing, resuming and cancelling a run, on the real local stack: a paused run's items are not
 * taken (no attempt spent) and its messages do not pile up; resume re-sends and completes them
 * once; cancel ends every unfinished item as RUN_CANCELLED; the CLI refuses what makes no sense
 * with exit 2 and a message naming the run and its state.
 */
import { describe, expect, it } from 'vitest';
import { planRun } from '../../coordinator/plan.js';
import { controlRun, refusal, RUN_CONTROL } from '../../coordinator/run-control.js';
import { buildSummary, formatSummary } from '../../monitor/summary.js';
import { ConvoyError, InputError } from '../../shared/errors.js';
import { itemsOfRun } from '../../state/item-bulk.js';
import type { ItemRow } from '../../state/item-row.js';
import { markPlanComplete } from '../../state/run-lifecycle.js';
import { createRun, getRun } from '../../state/runs.js';
import { runCli, writeCliConfig } from '../helpers/cli.js';
import { waitUntil } from '../helpers/stack.js';
import {
  engineFixture,
  fastWorker,
  gate,
  planScript,
  queueEmpty,
  recordEvents,
  rowCounts,
  SCRIPT_KIND,
  succeed,
} from './script-kind.js';

describe('run control rules (pure)', () => {
  it('each action leaves only from the states that make sense', () => {
    expect(RUN_CONTROL.pause.from).toEqual(['planning', 'running']);
    expect(RUN_CONTROL.resume.from).toEqual(['paused']);
    expect(RUN_CONTROL.cancel.from).not.toContain('done');
    expect(RUN_CONTROL.cancel.from).not.toContain('cancelled');
  });

  it('refusals name the run, its state and what to do instead', () => {
    expect(refusal('r1', 'pause', 'done')).toMatch(/r1 is done.*convoy requeue --run r1/);
    expect(refusal('r1', 'resume', 'running')).toBe('run r1 is already running');
    expect(refusal('r1', 'resume', 'planning')).toBe('run r1 is planning, not paused: there is nothing to resume');
    expect(refusal('r1', 'cancel', 'cancelled')).toBe('run r1 is already cancelled');
    expect(refusal('r1', 'pause', 'cancelled')).toMatch(/cancelled, which is final: plan a new run/);
  });
});

describe('pause, resume, cancel', () => {
  const fx = engineFixture();
  const rows = async (runId: string): Promise<ItemRow[]> => {
    const out: ItemRow[] = [];
    for await (const page of itemsOfRun(fx.env.ctx.items, runId)) out.push(...page);
    return out;
  };

  it('a paused run is not worked (no attempt spent, queue drained); resume re-sends and completes every item once', async () => {
    const calls: string[] = [];
    await planScript(fx.env.ctx, 'paused', 6, async (it, ictx) => {
      calls.push(it.itemId);
      return succeed(it, ictx);
    });
    expect(await controlRun(fx.env.ctx, 'paused', 'pause')).toMatchObject({ from: 'running', to: 'paused' });
    const ev = recordEvents(fx.env.ctx, ['item:claim:skipped', 'item:completed']);
    fx.start(fastWorker(fx.env.ctx));
    await waitUntil(() => ev['item:claim:skipped'].filter((e) => e.payload.reason === 'paused').length === 6, {
      what: 'all six messages met while paused',
    });
    await waitUntil(() => queueEmpty(fx.env.ctx), { what: 'paused messages dropped, not cycled' });
    expect(calls).toEqual([]);
    for (const r of await rows('paused')) expect(r).toMatchObject({ status: 'pending', attempts: 0 });
    expect((await fx.env.ctx.queue.depth()).dlqVisible).toBe(0);
    // the monitor says so, instead of an ETA
    const summary = formatSummary(await buildSummary(fx.env.ctx, 'paused', { staleAfterMs: 30_000 }));
    expect(summary).toMatch(/state=paused/);
    expect(summary).toMatch(/ETA paused \(convoy resume --run to go on\)/);

    const resumed = await controlRun(fx.env.ctx, 'paused', 'resume');
    expect(resumed).toMatchObject({ from: 'paused', to: 'running', resent: 6 });
    await waitUntil(() => ev['item:completed'].length === 6, { what: 'all six completed after resume' });
    expect(await rowCounts(fx.env.ctx, 'paused')).toEqual({ done: 6 });
    expect([...calls].sort()).toEqual((await rows('paused')).map((r) => r.itemId).sort());
    for (const r of await rows('paused')) expect(r.attempts).toBe(1);
  });

  it('pausing a run being worked: items in flight finish, the rest stay pending unattempted until resumed', async () => {
    const release = gate();
    const started: string[] = [];
    await planScript(fx.env.ctx, 'busy', 10, async (it, ictx) => {
      started.push(it.itemId);
      if (started.length <= 2) await release.promise; // the first two are in flight when we pause
      return succeed(it, ictx);
    });
    const ev = recordEvents(fx.env.ctx, ['item:claim:skipped', 'item:completed']);
    // runStateTtlMs 0: the worker reads the run row for every message, so the pause is seen at once
    fx.start(fastWorker(fx.env.ctx, { concurrency: 2, runStateTtlMs: 0 }));
    await waitUntil(() => started.length === 2, { what: 'two items in flight' });
    await controlRun(fx.env.ctx, 'busy', 'pause');
    release.open();
    await waitUntil(() => ev['item:completed'].length === 2, { what: 'the in-flight items finished' });
    await waitUntil(() => ev['item:claim:skipped'].filter((e) => e.payload.reason === 'paused').length === 8, {
      what: 'the other eight left alone',
    });
    await waitUntil(() => queueEmpty(fx.env.ctx), { what: 'queue drained' });
    expect(started).toHaveLength(2);
    expect(await rowCounts(fx.env.ctx, 'busy')).toEqual({ done: 2, pending: 8 });
    for (const r of (await rows('busy')).filter((r) => r.status === 'pending')) expect(r.attempts).toBe(0);

    await controlRun(fx.env.ctx, 'busy', 'resume');
    await waitUntil(() => ev['item:completed'].length === 10, { what: 'all ten completed after resume' });
    expect(await rowCounts(fx.env.ctx, 'busy')).toEqual({ done: 10 });
    expect(new Set(started).size).toBe(10);
  });

  it('cancelling a paused run ends every unfinished item as RUN_CANCELLED, none of them worked', async () => {
    let calls = 0;
    await planScript(fx.env.ctx, 'doomed', 5, async (it, ictx) => {
      calls++;
      return succeed(it, ictx);
    });
    await controlRun(fx.env.ctx, 'doomed', 'pause');
    const ev = recordEvents(fx.env.ctx, ['item:claim:skipped', 'item:failed']);
    fx.start(fastWorker(fx.env.ctx));
    await waitUntil(() => ev['item:claim:skipped'].length === 5, { what: 'messages dropped while paused' });
    const cancelled = await controlRun(fx.env.ctx, 'doomed', 'cancel');
    expect(cancelled).toMatchObject({ from: 'paused', to: 'cancelled', resent: 5 });
    await waitUntil(async () => (await rowCounts(fx.env.ctx, 'doomed')).failed === 5, {
      what: 'all failed as cancelled',
    });
    for (const r of await rows('doomed')) expect(r.lastError?.errorClass).toBe('RUN_CANCELLED');
    expect(calls).toBe(0);
    expect((await getRun(fx.env.ctx.meta, 'doomed'))?.finishedAtMs).toBeGreaterThan(0);
    await expect(controlRun(fx.env.ctx, 'doomed', 'resume')).rejects.toThrow(/cancelled, which is final/);
    await expect(planRun(fx.env.ctx, { kind: SCRIPT_KIND, runId: 'doomed', spec: { n: 5 } })).rejects.toThrow(
      /doomed was cancelled; a cancelled run is final/,
    );
  });

  it('a run paused while it is planned stays paused when the plan completes; one cancelled meanwhile fails the plan clearly', async () => {
    await createRun(fx.env.ctx.meta, { runId: 'mid', kind: SCRIPT_KIND, spec: { n: 1 } });
    await controlRun(fx.env.ctx, 'mid', 'pause');
    await markPlanComplete(fx.env.ctx.meta, 'mid');
    expect(await getRun(fx.env.ctx.meta, 'mid')).toMatchObject({ state: 'paused', planComplete: true });

    await createRun(fx.env.ctx.meta, { runId: 'gone', kind: SCRIPT_KIND, spec: { n: 1 } });
    await controlRun(fx.env.ctx, 'gone', 'cancel');
    const err = await markPlanComplete(fx.env.ctx.meta, 'gone').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConvoyError);
    expect(err).toMatchObject({ errorClass: 'RUN_CANCELLED', retryable: false });
    // re-planning the cancelled, unfinished run is refused before anything is written
    await expect(planRun(fx.env.ctx, { kind: SCRIPT_KIND, runId: 'gone', spec: { n: 1 } })).rejects.toBeInstanceOf(
      InputError,
    );
    expect(await rows('gone')).toEqual([]);
  });

  it('CLI: pause/resume/cancel print what changed; nonsense exits 2 naming the run and its state; a cancelled run cannot be requeued', async () => {
    await planScript(fx.env.ctx, 'cli', 2, succeed);
    const config = writeCliConfig(fx.env);
    const pause = await runCli(['pause', '--run', 'cli'], { config });
    expect(pause.code).toBe(0);
    expect(pause.stdout).toMatch(/run cli paused \(was running\)/);
    expect((await getRun(fx.env.ctx.meta, 'cli'))?.state).toBe('paused');

    const again = await runCli(['pause', '--run', 'cli'], { config });
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/run cli is already paused/);

    const missing = await runCli(['resume', '--run', 'nope'], { config });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/run "nope" not found/);

    const resume = await runCli(['resume', '--run', 'cli'], { config });
    expect(resume.code).toBe(0);
    expect(resume.stdout).toMatch(/run cli resumed \(was paused\); re-sent 2 unfinished item/);

    const cancel = await runCli(['cancel', '--run', 'cli'], { config });
    expect(cancel.code).toBe(0);
    expect(cancel.stdout).toMatch(/run cli cancelled \(was running\)/);
    const requeue = await runCli(['requeue', '--run', 'cli'], { config });
    expect(requeue.code).toBe(2);
    expect(requeue.stderr).toMatch(/run cli was cancelled, which is final/);
    expect((await getRun(fx.env.ctx.meta, 'cli'))?.state).toBe('cancelled');
  });
});
