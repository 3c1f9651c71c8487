/**
 * Adaptive, fleet-wide rate control for one run in one worker process. A job asks `acquire(dest)`
 * before each unit of work it sends to a destination and reports `throttled(dest)` for each
 * throttled request. Until a destination throttles, acquire costs nothing and nothing is limited.
 * Once it has, the fleet's rate for it lives in the state table (state/fleet-rates.ts) and this
 * process takes an even share of it (a token bucket per destination).
 *
 * Once per window (1 s) while the run is active here, the process reads the run's rate rows
 * (one Query), lets aimd.ts judge what it saw in the window, and writes the verdict: a cut or a
 * raise, one conditional write that only the first worker of the fleet wins. A process that has
 * seen no throttling and no rows reads every fifth window only: an unthrottled run pays one
 * Query per process every 5 s.
 */
import type { ConvoyContext } from '../../shared/context.js';
import { cutFleetRate, type FleetRateRow, raiseFleetRate, readFleetRates } from '../../state/fleet-rates.js';
import {
  aimdDecide,
  aimdSettingsFor,
  DEFAULT_AIMD,
  raiseSpacingMs,
  type AimdSettings,
  type WindowObservation,
} from './aimd.js';
import { CapacityBudget, shareOf } from './capacity-budget.js';
import { liveWorkersOnRun } from './run-budget.js';
import { PerContext } from '../../shared/per-context.js';

/** What one destination saw in the current window. */
type WindowObservationCounts = Pick<WindowObservation, 'sent' | 'throttled' | 'saturated'>;

interface DestinationWindow extends WindowObservationCounts {
  budget?: CapacityBudget;
}

/** One destination's side of the rate control, for code that should not know the rest. */
export interface RateGate {
  acquire(units: number): Promise<void>;
  throttled(): void;
}

const QUIET_READ_EVERY = 5;
/** how long a destination that starts throttling is watched before the first cut */
const FIRST_LOOK_MS = 300;
const RECOUNT_SHARERS_EVERY = 10;

export class AdaptiveRates {
  private readonly destinations = new Map<string, DestinationWindow>();
  private fleet = new Map<string, FleetRateRow>();
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private windows = 0;
  private sharers = 1;
  private idleWindows = 0;
  private windowStartMs = 0;
  private early: NodeJS.Timeout | undefined;
  /** what the last windows did, for logs and tests */
  readonly decisions = { cuts: 0, raises: 0, reads: 0 };

  /**
   * `settingsFor` gives each destination its limits (S3 prefixes and DynamoDB tables differ); the
   * window and cooldown of the first destination's settings pace the loop for all of them.
   */
  constructor(
    private readonly ctx: ConvoyContext,
    private readonly runId: string,
    private readonly settingsFor: (destination: string) => AimdSettings = aimdSettingsFor,
    private readonly settings: AimdSettings = DEFAULT_AIMD,
  ) {}

  private window(dest: string): DestinationWindow {
    let w = this.destinations.get(dest);
    if (!w) {
      w = { sent: 0, throttled: 0, saturated: false };
      this.destinations.set(dest, w);
    }
    return w;
  }

  /** Wait for this process's share of the destination's rate (at once while it has none). */
  async acquire(dest: string, units = 1, signal?: AbortSignal): Promise<void> {
    this.start();
    const w = this.window(dest);
    if (w.budget) {
      if (w.budget.delayFor(units) > 0) w.saturated = true;
      await w.budget.acquire(units, signal);
    }
    w.sent += units;
  }

  /** A request to the destination was throttled (each attempt counts, retried ones too). */
  throttled(dest: string): void {
    const w = this.window(dest);
    w.throttled++;
    // A destination with no limit yet is being flooded at full concurrency: judge after a short
    // look (enough to measure what it accepts) rather than at the end of the window.
    if (!w.budget && w.throttled === this.settingsFor(dest).cutAtThrottled && !this.early) {
      const age = this.ctx.now() - this.windowStartMs;
      this.early = setTimeout(() => this.tickNow(), Math.max(0, FIRST_LOOK_MS - age));
      this.early.unref();
    }
  }

  /**
   * A throttled request is about to be retried: count the throttle and wait for a unit like any
   * other request, so retries cannot bypass the limit (they would amplify the overload).
   */
  async beforeRetry(dest: string, signal?: AbortSignal): Promise<void> {
    this.throttled(dest);
    await this.acquire(dest, 1, signal);
  }

  /** What a writer needs of one destination: wait for units, report throttling. */
  gate(dest: string, signal?: AbortSignal): RateGate {
    return {
      acquire: (units) => this.acquire(dest, units, signal),
      throttled: () => this.throttled(dest),
    };
  }

  /** The fleet's current rate for each destination that has one, as last read. */
  rates(): ReadonlyMap<string, FleetRateRow> {
    return this.fleet;
  }

  private start(): void {
    this.idleWindows = 0;
    if (this.timer) return;
    this.windowStartMs = this.ctx.now();
    this.timer = setInterval(() => this.tickNow(), this.settings.windowMs);
    this.timer.unref();
  }

  private tickNow(): void {
    this.early = undefined;
    this.ticking ??= this.tick()
      .catch((err: unknown) => this.ctx.log.warn({ err, runId: this.runId }, 'adaptive rate control: window skipped'))
      .finally(() => (this.ticking = undefined));
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * One window: close it, read the fleet's rows, judge, write the verdicts, apply the shares. The
   * window is closed (its counts taken, the next one begun) before the reads: throttles reported
   * while they are in flight belong to the next window. Reset after them, a slow read (a loaded
   * state table, a starved process) would drop every throttle that came in meanwhile, and a
   * destination throttling steadily could go uncut.
   */
  async tick(): Promise<void> {
    this.windows++;
    const { seconds, active } = this.closeWindow();
    if (active.length === 0 && ++this.idleWindows > QUIET_READ_EVERY) return this.stop();
    const anyThrottled = active.some(([, w]) => w.throttled > 0);
    if (!anyThrottled && this.fleet.size === 0 && this.windows % QUIET_READ_EVERY !== 0) return;
    if (this.windows % RECOUNT_SHARERS_EVERY === 1 || this.fleet.size === 0)
      this.sharers = await liveWorkersOnRun(this.ctx, this.runId).catch(() => this.sharers);
    this.fleet = await readFleetRates(this.ctx.meta, this.runId);
    this.decisions.reads++;
    const nowMs = this.ctx.now();
    let changed = false;
    for (const [dest, w] of active) {
      const row = this.fleet.get(dest);
      const verdict = aimdDecide(
        {
          sent: w.sent,
          throttled: w.throttled,
          saturated: w.saturated,
          fleetRateEstimate: (Math.max(0, w.sent - w.throttled) / seconds) * this.sharers,
        },
        row,
        nowMs,
        this.settingsFor(dest),
      );
      if (verdict.action === 'cut') {
        const won = await cutFleetRate(this.ctx.meta, this.runId, dest, {
          ...verdict,
          nowMs,
          cooldownMs: this.settingsFor(dest).cooldownMs,
        });
        if (won) this.decisions.cuts++;
        changed = true;
      } else if (verdict.action === 'raise') {
        if (
          await raiseFleetRate(this.ctx.meta, this.runId, dest, {
            ...verdict,
            nowMs,
            spacingMs: raiseSpacingMs(this.settings),
          })
        )
          this.decisions.raises++;
        changed = true;
      }
    }
    if (changed) this.fleet = await readFleetRates(this.ctx.meta, this.runId);
    this.applyShares();
  }

  private applyShares(): void {
    for (const [dest, row] of this.fleet) {
      const w = this.window(dest);
      const share = shareOf(row.rate, this.sharers);
      if (w.budget) w.budget.setRate(share);
      // a new limit starts with an empty bucket: the destination just throttled
      else w.budget = new CapacityBudget({ unitsPerSecond: share, initialUnits: 0 });
    }
  }

  /**
   * End the current window: what each destination saw in it (those that saw anything) and its
   * real length (timers drift, and the first window starts at the first request); counting
   * starts again from zero.
   */
  private closeWindow(): { seconds: number; active: [string, WindowObservationCounts][] } {
    const nowMs = this.ctx.now();
    const seconds = Math.max(0.1, (nowMs - this.windowStartMs) / 1000);
    this.windowStartMs = nowMs;
    const active: [string, WindowObservationCounts][] = [];
    for (const [dest, w] of this.destinations) {
      if (w.sent > 0 || w.throttled > 0)
        active.push([dest, { sent: w.sent, throttled: w.throttled, saturated: w.saturated }]);
      w.sent = 0;
      w.throttled = 0;
      w.saturated = false;
    }
    return { seconds, active };
  }
}

const perContext = new PerContext<AdaptiveRates>();

/** This process's rate control for the run (one per run and context, shared by all its items here). */
export function adaptiveRatesFor(ctx: ConvoyContext, runId: string): AdaptiveRates {
  return perContext.get(ctx, runId, () => new AdaptiveRates(ctx, runId));
}
