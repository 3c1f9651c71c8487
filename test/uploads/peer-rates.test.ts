/**
 * peer-rates.ts on its own: which destination each UCAN request is rate-controlled as, and that
 * the gated fetch waits for its destination before sending and reports 429/503 answers (and
 * nothing else) as throttles. A real local HTTP server answers; the rate control is a recorder
 * (the fleet-wide side is tested end to end in adaptive-rate.test.ts).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLeanFetch } from '../../worker/jobs/uploads/lean-fetch.js';
import { peerDestinations, rateGatedFetch } from '../../worker/jobs/uploads/peer-rates.js';

let server: http.Server;
let base: string;
const received: string[] = [];

beforeAll(async () => {
  // answers the status named by the path: /status/429 -> 429
  server = http.createServer((req, res) => {
    received.push(req.url ?? '');
    const status = Number(/\/status\/(\d+)/.exec(req.url ?? '')?.[1] ?? 200);
    res.writeHead(status, { 'content-type': 'text/plain' });
    res.end(String(status));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

describe('peer-rates', () => {
  const peers = {
    upload: { url: 'https://up.example/', did: 'did:web:up.example' },
    indexer: { url: 'https://idx.example:8443', did: 'did:web:idx.example' },
    gateway: { url: 'http://127.0.0.1:9000', did: 'did:web:gw.example' },
  };

  it('names each destination by role and host; any other origin is a storage node', () => {
    const dest = peerDestinations({ peers });
    expect(dest(new URL('https://up.example/receipt/bafy'))).toBe('upload-service:up.example');
    expect(dest(new URL('https://idx.example:8443/claims?multihash=z'))).toBe('indexing-service:idx.example:8443');
    expect(dest(new URL('http://127.0.0.1:9000/'))).toBe('gateway:127.0.0.1:9000');
    expect(dest(new URL('http://127.0.0.1:9001/blob/abc'))).toBe('storage-node:127.0.0.1:9001');
  });

  it('waits for its destination before sending and reports 429 and 503 (only) as throttles', async () => {
    const events: string[] = [];
    const rates = {
      acquire: async (dest: string) => void events.push(`acquire ${dest} (${received.length} sent)`),
      throttled: (dest: string) => void events.push(`throttled ${dest}`),
    };
    const fetch = rateGatedFetch(createLeanFetch(), rates, () => 'svc');
    const statuses = [];
    for (const s of [200, 429, 503, 500, 404]) statuses.push((await fetch(`${base}/status/${s}`)).status);
    expect(statuses).toEqual([200, 429, 503, 500, 404]);
    expect(events).toEqual([
      'acquire svc (0 sent)',
      'acquire svc (1 sent)',
      'throttled svc',
      'acquire svc (2 sent)',
      'throttled svc',
      'acquire svc (3 sent)',
      'acquire svc (4 sent)',
    ]);
  });
});
