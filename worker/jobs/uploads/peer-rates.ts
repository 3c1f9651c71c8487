/**
 * Adaptive, fleet-wide rate control of the uploads kind's remote services (the engine's
 * worker/budget/adaptive-rates.ts, as s3-sync and the table kinds use it), applied where every
 * UCAN request passes: the agent's fetch. Each request first waits for a unit of its destination's
 * rate (nothing to wait for until that destination has throttled), and each answer 429 or 503 is
 * reported as a throttle, so the fleet cuts that destination's rate and ramps it up again.
 *
 * Destinations are per service, named by role and host: the upload service, the indexing service,
 * the gateway, and any other origin the upload service sends the agent to (the storage nodes a
 * `space/blob/add` receipt points the PUT at). One service throttling slows only the requests to it.
 *
 * What the services say when they are overloaded is HTTP: 429 (rate limiting in front of a service)
 * or 503. The upload-api's `RateLimitExceeded` / `AccountBlocked` receipts are not throttling (a
 * rate limit of 0 is a block list entry): they stay step errors, neither retried nor rate signals.
 */
import type { AdaptiveRates } from '../../budget/adaptive-rates.js';
import type { UploadsConfig } from './config.js';

/** Statuses that mean "too many requests" from a service (503 is also how S3 and CDNs shed load). */
export const THROTTLE_STATUSES: ReadonlySet<number> = new Set([429, 503]);

/** Role names as `convoy status` prints them (`adaptive rate indexing-service:host:port: ...`). */
const ROLES = { upload: 'upload-service', indexer: 'indexing-service', gateway: 'gateway' } as const;

/** `url` -> its destination: the peer's role when the origin is a configured peer, else a storage node. */
export function peerDestinations(config: Pick<UploadsConfig, 'peers'>): (url: URL) => string {
  const byOrigin = new Map<string, string>();
  for (const peer of ['upload', 'indexer', 'gateway'] as const) {
    const u = new URL(config.peers[peer].url);
    // the first role wins when two peers share an origin (one service behind one host)
    if (!byOrigin.has(u.origin)) byOrigin.set(u.origin, `${ROLES[peer]}:${u.host}`);
  }
  return (url) => byOrigin.get(url.origin) ?? `storage-node:${url.host}`;
}

interface FetchInit {
  signal?: AbortSignal | null;
}

/**
 * `fetch` that waits for its destination's share of the fleet's rate before sending and reports
 * throttled answers. The response is passed through as it is: the callers' error classes stay
 * (429 THROTTLED, 503 SERVICE_UNAVAILABLE, both retried by the engine with backoff).
 */
export function rateGatedFetch(
  inner: typeof fetch,
  rates: Pick<AdaptiveRates, 'acquire' | 'throttled'>,
  destinationOf: (url: URL) => string,
): typeof fetch {
  const gated = async (input: string | URL | { url: string }, init?: FetchInit) => {
    const url = typeof input === 'string' ? new URL(input) : input instanceof URL ? input : new URL(input.url);
    const dest = destinationOf(url);
    await rates.acquire(dest, 1, init?.signal ?? undefined);
    const res = await inner(url, init as RequestInit);
    if (THROTTLE_STATUSES.has(res.status)) rates.throttled(dest);
    return res;
  };
  return gated as unknown as typeof fetch;
}
