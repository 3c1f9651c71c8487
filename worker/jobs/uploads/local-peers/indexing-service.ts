/**
 * A local indexing service: a small @ucanto/server behind hono on 127.0.0.1.
 *   POST /          assert/index, assert/location (UCAN invocations; every proof validated)
 *   GET  /claims    ?multihash=<b58>&spaces=<did>  -> a QueryResult CAR (the real service's
 *                   format, read with @storacha/indexing-service-client)
 * An assert is accepted only when its `with` is one of the trusted authorities (the indexer's
 * own DID, whose `assert/*` it delegates to operators, and the upload service's DID, which
 * issues location claims), and the invocation is validly signed and proven. `claim/cache`
 * (storage nodes caching the location claims of blobs they accepted) is kept as well: the
 * upload service's storage nodes publish here, so `space/index/add` can find the index blob. It keeps every
 * claim it receives, so tests can count registrations (a second registration of the same
 * index would show up as a second entry).
 */
import type { Hono } from 'hono';
import * as Server from '@ucanto/server';
import * as CAR from '@ucanto/transport/car';
import { ed25519 } from '@ucanto/principal';
import * as Assert from '@storacha/capabilities/assert';
import * as ClaimCaps from '@storacha/capabilities/claim';
import * as Claim from '@storacha/indexing-service-client/claim';
import * as QueryResult from '@storacha/indexing-service-client/query-result';
import { base58btc } from 'multiformats/bases/base58';
import { listenLoopback, PeerFaults, ucantoApp, type RunningApp } from './http.js';

export interface ReceivedClaim {
  type: 'assert/index' | 'assert/location';
  /** base58btc of the content multihash */
  content: string;
  space?: string;
  index?: string;
  location?: string[];
  issuer: string;
  atMs: number;
}

type AnyClaim = ReturnType<typeof Claim.view>;

export interface IndexingServicePeer {
  url: string;
  did: string;
  signer: ed25519.EdSigner;
  faults: PeerFaults;
  received: ReceivedClaim[];
  /**
   * contents (b58 multihash) whose claims are refused with an error receipt (`ClaimRefused`), as
   * a service refuses one invocation of a message and takes the others
   */
  refusedContent: Set<string>;
  /** number of assert/index invocations accepted for this content root (b58 multihash) */
  indexRegistrations(contentB58: string): number;
  close(): Promise<void>;
}

function contentKey(content: unknown): string {
  const c = content as { multihash?: { bytes: Uint8Array }; digest?: Uint8Array };
  const bytes = c.multihash ? c.multihash.bytes : c.digest!;
  return base58btc.encode(bytes);
}

export async function startIndexingService(
  opts: {
    signer?: ed25519.EdSigner;
    /** other DIDs whose self-issued claims are accepted, with their did:key (did:web resolution) */
    trusted?: Record<string, `did:key:${string}`>;
    port?: number;
  } = {},
): Promise<IndexingServicePeer> {
  const signer = opts.signer ?? (await ed25519.generate());
  const trusted = new Map<string, string>(Object.entries(opts.trusted ?? {}));
  const authorities = new Set([signer.did(), ...trusted.keys()]);
  const claims = new Map<string, AnyClaim[]>();
  const received: ReceivedClaim[] = [];
  const faults = new PeerFaults();
  const refusedContent = new Set<string>();

  const accept = (inv: Server.API.Invocation, withDid: string, root = inv.root.cid, checkAuthority = true) => {
    if (checkAuthority && !authorities.has(withDid)) {
      return Server.error({
        name: 'Unauthorized',
        message: `${withDid} is not an authority this indexer accepts claims from`,
      });
    }
    const claim = Claim.view({ root, blocks: inv.blocks as never });
    const key = contentKey(claim.content);
    if (refusedContent.has(key))
      return Server.error({ name: 'ClaimRefused', message: `claims about ${key} are refused (injected)` });
    const list = claims.get(key) ?? [];
    list.push(claim);
    claims.set(key, list);
    const nb = claim as unknown as { space?: { did(): string }; index?: { toString(): string }; location?: string[] };
    received.push({
      type: claim.type as ReceivedClaim['type'],
      content: key,
      space: nb.space?.did(),
      index: nb.index?.toString(),
      location: nb.location,
      issuer: inv.issuer.did(),
      atMs: Date.now(),
    });
    return Server.ok({});
  };

  const server = Server.create({
    id: signer,
    codec: CAR.inbound,
    service: {
      assert: {
        index: Server.provide(Assert.index, ({ capability, invocation }) => accept(invocation, capability.with)),
        location: Server.provide(Assert.location, ({ capability, invocation }) => accept(invocation, capability.with)),
      },
      claim: {
        // a claim signed by its issuer, handed on by whoever holds it
        cache: Server.provide(ClaimCaps.cache, ({ capability, invocation }) =>
          accept(invocation, capability.with, capability.nb.claim as never, false),
        ),
      },
    },
    validateAuthorization: () => ({ ok: {} }),
    resolveDIDKey: (did: string) => {
      const key = trusted.get(did);
      return key
        ? { ok: [key as `did:key:${string}`] }
        : { error: new Server.Failure(`cannot resolve ${did}`) as never };
    },
  } as never) as unknown as Parameters<typeof ucantoApp>[0];

  const app: Hono = ucantoApp(server, faults);
  app.get('/claims', async (c) => {
    const hashes = c.req.queries('multihash') ?? [];
    if (!hashes.length) return c.text('missing multihash', 400);
    const found: AnyClaim[] = [];
    for (const h of hashes) found.push(...(claims.get(h) ?? []));
    const result = await QueryResult.from({ claims: found as never });
    if (result.error) return c.text(result.error.message, 500);
    const bytes = await QueryResult.archive(result.ok);
    if (bytes.error) return c.text(bytes.error.message, 500);
    return new Response(Buffer.from(bytes.ok), { headers: { 'content-type': 'application/vnd.ipld.car' } });
  });
  const running: RunningApp = await listenLoopback(app, opts.port);
  return {
    url: running.url,
    did: signer.did(),
    signer,
    faults,
    received,
    refusedContent,
    indexRegistrations: (b58) => received.filter((r) => r.type === 'assert/index' && r.content === b58).length,
    close: running.close,
  };
}
