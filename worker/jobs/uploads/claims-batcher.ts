/**
 * The indexer calls of a process's uploads in flight, batched per space. Each upload asks the
 * indexing service about its root and shards twice (before and after: migrate-upload.ts's
 * lookAround) and publishes its claims once: three requests per upload, each signed, sent, and
 * verified or decoded at both ends. The uploads of one space in flight in a process reach those
 * steps close together, so here the queries of one space asked close together go out as ONE
 * query for all their roots and shards (each upload picks its own content out of the answer), and
 * the claims published close together as ONE ucanto message of all their invocations, each with
 * its own receipt (ucan.ts `publishClaimsSettled`): a refused claim fails only its upload.
 *
 * When a space's batch goes (`shouldSend`, the one rule):
 *  - every upload of the space in flight here is waiting in one of the space's batches: nobody
 *    else can join, and waiting longer would only delay (a lone upload waits for nothing);
 *  - it holds `maxCalls` calls; or the next call would take it past `maxUnits` multihashes (a
 *    query's URL carries each, ~50 characters) or claims: then it goes first, without that call;
 *  - `windowMs` after its first call.
 * An upload says it is in flight with `enter(space)` and through with the function that returns;
 * a caller that did not enter never waits.
 *
 * A batch refused as a whole (429, 5xx, a network fault: the retryable classes) is tried again
 * here, as one request, with full-jitter backoff (shared/backoff.ts `retryTransient`); each try is
 * new invocations (new nonces: ucan.ts). Handing such a fault to every upload in the batch would
 * send them all back through the engine's retry together, to re-batch and meet a rate limiter
 * together again. What still fails after `attempts` tries fails each caller with that error.
 */
import { retryTransient } from '../../../shared/backoff.js';
import type { ConvoyError } from '../../../shared/errors.js';
import type { ClaimToPublish, FoundClaim } from './ucan.js';

/** The two indexer calls (ucan.ts UcanAgent; its run's rate-gated copy under adaptive rate control). */
export interface ClaimsPeer {
  queryClaims(multihashes: Uint8Array[], space?: string): Promise<FoundClaim[]>;
  publishClaimsSettled(claims: ClaimToPublish[]): Promise<Array<ConvoyError | undefined>>;
}

export interface BatchLimits {
  /** how long a batch waits for more calls after its first */
  windowMs: number;
  /** calls per batch */
  maxCalls: number;
  /** multihashes per query, claims per publish */
  maxUnits: number;
  /** tries of a batch refused as a whole, the first included */
  attempts: number;
}

/**
 * 50 ms: a space's uploads reach a step at the rate they finish the one before, so a window short
 * against those gaps batches little (32 uploads of one space, 16 in flight: 96 indexer requests
 * unbatched, 75 with a 5 ms window, 63 at 20 ms, 51 at 50 ms). 16 calls and 64 multihashes keep
 * a query's URL under ~4 KB.
 */
export const DEFAULT_BATCH_LIMITS: BatchLimits = { windowMs: 50, maxCalls: 16, maxUnits: 64, attempts: 4 };

/** What the rule looks at: one space's uploads in flight, and its batches. */
export interface SpaceView {
  /** uploads of the space in flight in this process (`enter`ed, not yet through) */
  inFlight: number;
  /** calls waiting in the space's batches (both kinds) */
  waiting: number;
}

/** Whether a space's batch goes now, after a call joined it or an upload of the space left. */
export function shouldSend(space: SpaceView, batchCalls: number, limits: BatchLimits): boolean {
  return batchCalls >= limits.maxCalls || space.waiting >= space.inFlight;
}

/** Whether a call of `units` fits into a batch holding `batchUnits` (an empty batch takes any call). */
export function fits(batchUnits: number, batchCalls: number, units: number, limits: BatchLimits): boolean {
  return batchCalls === 0 || batchUnits + units <= limits.maxUnits;
}

interface Waiter<R> {
  resolve(result: R): void;
  reject(err: unknown): void;
}

interface Batch<C, R> {
  calls: C[];
  waiters: Waiter<R>[];
  units: number;
  timer: NodeJS.Timeout;
}

type Kind = 'query' | 'publish';

interface SpaceBatches {
  inFlight: number;
  query?: Batch<Uint8Array[], FoundClaim[]>;
  publish?: Batch<ClaimToPublish[], void>;
}

export class ClaimsBatcher {
  private readonly spaces = new Map<string, SpaceBatches>();

  constructor(
    private readonly peer: ClaimsPeer,
    private readonly limits: BatchLimits = DEFAULT_BATCH_LIMITS,
  ) {}

  /** An upload of `space` is in flight; call what this returns once it is through. */
  enter(space: string): () => void {
    const s = this.space(space);
    s.inFlight++;
    let through = false;
    return () => {
      if (through) return;
      through = true;
      s.inFlight--;
      this.sendIfReady(space, s);
      if (s.inFlight === 0 && !s.query && !s.publish) this.spaces.delete(space);
    };
  }

  /** The claims the indexer holds for these multihashes (with the space's), asked with the space's other queries. */
  queryClaims(multihashes: Uint8Array[], space: string): Promise<FoundClaim[]> {
    return this.join(space, 'query', multihashes, multihashes.length) as Promise<FoundClaim[]>;
  }

  /** Publish an upload's claims with the space's others; rejects with its own first refused claim. */
  publish(space: string, claims: ClaimToPublish[]): Promise<void> {
    if (!claims.length) return Promise.resolve();
    return this.join(space, 'publish', claims, claims.length) as Promise<void>;
  }

  private space(space: string): SpaceBatches {
    let s = this.spaces.get(space);
    if (!s) {
      s = { inFlight: 0 };
      this.spaces.set(space, s);
    }
    return s;
  }

  private join(space: string, kind: Kind, call: Uint8Array[] | ClaimToPublish[], units: number): Promise<unknown> {
    const s = this.space(space);
    let batch = s[kind] as Batch<unknown, unknown> | undefined;
    if (batch && !fits(batch.units, batch.calls.length, units, this.limits)) {
      this.send(space, s, kind);
      batch = undefined;
    }
    if (!batch) {
      const timer = setTimeout(() => this.send(space, s, kind, timer), this.limits.windowMs);
      batch = { calls: [], waiters: [], units: 0, timer };
      (s as Record<Kind, unknown>)[kind] = batch;
    }
    const open = batch;
    const answer = new Promise<unknown>((resolve, reject) => open.waiters.push({ resolve, reject }));
    open.calls.push(call);
    open.units += units;
    if (open.calls.length >= this.limits.maxCalls) this.send(space, s, kind);
    else this.sendIfReady(space, s);
    return answer;
  }

  /** Both of the space's batches go when the rule says so (every upload of it is waiting). */
  private sendIfReady(space: string, s: SpaceBatches): void {
    const view = { inFlight: s.inFlight, waiting: (s.query?.calls.length ?? 0) + (s.publish?.calls.length ?? 0) };
    if (view.waiting === 0) return;
    for (const kind of ['query', 'publish'] as const) {
      const batch = s[kind];
      if (batch && shouldSend(view, batch.calls.length, this.limits)) this.send(space, s, kind);
    }
  }

  /** Take the space's open batch of `kind` (only the one `timer` opened, when a timer fires) and send it. */
  private send(space: string, s: SpaceBatches, kind: Kind, timer?: NodeJS.Timeout): void {
    const batch = s[kind];
    if (!batch || (timer && batch.timer !== timer)) return;
    clearTimeout(batch.timer);
    s[kind] = undefined;
    if (kind === 'query') void this.sendQuery(space, batch as Batch<Uint8Array[], FoundClaim[]>);
    else void this.sendPublish(batch as Batch<ClaimToPublish[], void>);
    if (s.inFlight === 0 && !s.query && !s.publish) this.spaces.delete(space);
  }

  private async sendQuery(space: string, batch: Batch<Uint8Array[], FoundClaim[]>): Promise<void> {
    // a shard two uploads share is asked about once
    const unique = new Map<string, Uint8Array>();
    for (const call of batch.calls) for (const mh of call) unique.set(Buffer.from(mh).toString('latin1'), mh);
    const multihashes = [...unique.values()];
    try {
      const found = await this.tried(() => this.peer.queryClaims(multihashes, space));
      for (const w of batch.waiters) w.resolve(found);
    } catch (err) {
      for (const w of batch.waiters) w.reject(err);
    }
  }

  private async sendPublish(batch: Batch<ClaimToPublish[], void>): Promise<void> {
    try {
      const outcomes = await this.tried(() => this.peer.publishClaimsSettled(batch.calls.flat()));
      let at = 0;
      for (const [i, call] of batch.calls.entries()) {
        const refused = outcomes.slice(at, at + call.length).find((e) => e !== undefined);
        at += call.length;
        if (refused) batch.waiters[i]!.reject(refused);
        else batch.waiters[i]!.resolve();
      }
    } catch (err) {
      for (const w of batch.waiters) w.reject(err);
    }
  }

  /** A batch refused as a whole, tried again as one (the callers see the service's error at the end). */
  private tried<T>(request: () => Promise<T>): Promise<T> {
    return retryTransient(request, { attempts: this.limits.attempts, throwOriginal: true });
  }
}
