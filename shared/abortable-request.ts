/**
 * Abort signals for requests sent on node:http by our own clients (shared/s3-requests.ts,
 * shared/aws-json-requests.ts).
 */
import type { ClientRequest } from 'node:http';

/**
 * Requests in flight per abort signal (an item's lease signal). Handing the signal to
 * `http.request` adds an abort listener to it per request (4% of the worker's CPU in bench:s3 case
 * e, thousands of requests per item); instead each signal gets one listener, the first time it is
 * seen, that destroys whatever requests of it are still open when it fires.
 */
const openRequests = new WeakMap<AbortSignal, Set<ClientRequest>>();

export function abortable(req: ClientRequest, signal: AbortSignal): void {
  let open = openRequests.get(signal);
  if (!open) {
    const set = new Set<ClientRequest>();
    open = set;
    openRequests.set(signal, set);
    signal.addEventListener(
      'abort',
      () => {
        const err = Object.assign(new Error('The operation was aborted', { cause: signal.reason }), {
          name: 'AbortError',
          code: 'ABORT_ERR',
        });
        for (const r of set) r.destroy(err);
        set.clear();
      },
      { once: true },
    );
  }
  const requests = open;
  requests.add(req);
  // the response body is read after the request's promise resolved: close is the request's end
  req.once('close', () => requests.delete(req));
}
