/**
 * The migration agent's UCAN calls to the three peers, built once per process from the uploads
 * config (keys parsed once, connections kept). Every invocation carries a fresh random nonce:
 * the upload service answers a repeated identical invocation with its STORED receipt, so a retry
 * after a failure must be a new invocation or it gets the old failure back.
 *
 * Outcomes become our error classes here and only here: an `Unauthorized` receipt (a bad or
 * missing proof) is UNAUTHORIZED and never retried; HTTP 5xx or a network fault is
 * SERVICE_UNAVAILABLE and 429 THROTTLED (both retried by the engine with backoff); any other
 * error receipt is the step's own class (INDEX_PUBLISH_FAILED, LOCATION_CLAIM_FAILED, ...), and
 * an unknown indexer answer is an error, never "no data".
 */
import { randomUUID } from 'node:crypto';
import * as Access from '@storacha/capabilities/access';
import * as Assert from '@storacha/capabilities/assert';
import * as Provider from '@storacha/capabilities/provider';
import { contentServe } from '@storacha/capabilities/space';
import * as SpaceIndex from '@storacha/capabilities/space/index';
import { add as blobAdd } from '@storacha/upload-client/blob';
import { connect } from '@ucanto/client';
import { Delegation } from '@ucanto/core';
import type { Delegation as DelegationT, Signer } from '@ucanto/interface';
import { ed25519, Verifier } from '@ucanto/principal';
import * as CAR from '@ucanto/transport/car';
import * as HTTP from '@ucanto/transport/http';
import { parse as parseDID } from '@ipld/dag-ucan/did';
import * as Digest from 'multiformats/hashes/digest';
import { CID } from 'multiformats/cid';
import {
  classifyError,
  ConvoyError,
  ServiceUnavailableError,
  ThrottledError,
  toError,
  type ErrorClass,
} from '../../../shared/errors.js';
import type { UploadsConfig } from './config.js';
import { claimsQueryUrl, decodeClaims, type FoundClaim } from './claims-query.js';
import { createLeanFetch } from './lean-fetch.js';
import { installNativeEd25519 } from './native-ed25519.js';

export type PeerName = 'upload' | 'indexer' | 'gateway';

export type { FoundClaim };

/** A claim for the indexing service: an upload's index, or a shard's location (with the space). */
export type ClaimToPublish =
  | { type: 'index'; root: string; index: string }
  | { type: 'location'; shardMultihash: Uint8Array; location: string; size: number; space: string | undefined };

export function nonce(): string {
  return randomUUID();
}

/** Throw the right class for a thrown transport error (HTTP status, network). */
export function transportError(peer: PeerName, err: unknown): ConvoyError {
  const e = toError(err) as Error & { status?: number };
  if (e.name === 'HTTPError' && typeof e.status === 'number') {
    if (e.status === 429) return new ThrottledError(`${peer}: HTTP 429`, { cause: err });
    if (e.status >= 500) return new ServiceUnavailableError(`${peer}: HTTP ${e.status}`, { cause: err });
    return new ConvoyError(`${peer.toUpperCase() as Uppercase<PeerName>}_REJECTED`, `${peer}: HTTP ${e.status}`, {
      retryable: false,
      cause: err,
    });
  }
  const c = classifyError(err);
  // fetch failures without a code ("fetch failed") are network faults
  if (c.errorClass === 'UNKNOWN' && /fetch failed|ECONNREFUSED|socket/i.test(e.message))
    return new ServiceUnavailableError(`${peer}: ${e.message}`, { cause: err });
  return c;
}

/** Turn a receipt's error into a ConvoyError of `stepClass` (UNAUTHORIZED for proof failures). */
export function receiptError(
  peer: PeerName,
  stepClass: ErrorClass,
  error: { name?: string; message?: string },
): ConvoyError {
  const name = error.name ?? 'Error';
  const message = `${peer}: ${name}: ${(error.message ?? '').slice(0, 500)}`;
  if (name === 'Unauthorized' || name === 'InvalidAudience' || name === 'Expired' || name === 'InvalidSignature') {
    return new ConvoyError('UNAUTHORIZED', message, { retryable: false });
  }
  if (name === 'RateLimited' || name === 'TooManyRequests') return new ThrottledError(message);
  return new ConvoyError(stepClass, message, { retryable: name === 'HandlerExecutionError' });
}

export async function decodeProof(b64: string): Promise<DelegationT> {
  const out = await Delegation.extract(Buffer.from(b64, 'base64'));
  if (out.error)
    throw new ConvoyError('MISSING_DELEGATION', `a proof does not decode: ${out.error.message}`, { retryable: false });
  return out.ok as DelegationT;
}

export async function encodeProof(d: DelegationT): Promise<string> {
  const out = await Delegation.archive(d);
  if (out.error) throw out.error;
  return Buffer.from(out.ok).toString('base64');
}

export class UcanAgent {
  readonly agent: Signer;
  readonly service: Signer;
  private readonly connections: Record<PeerName, ReturnType<typeof connect>>;
  private readonly indexerURL: URL;
  private constructor(
    readonly config: UploadsConfig,
    agent: Signer,
    service: Signer,
    private readonly accountProofs: DelegationT[],
    private readonly indexerProofs: DelegationT[],
    /** every UCAN client of this agent shares one lean keep-alive fetch (see lean-fetch.ts) */
    private readonly fetch: typeof globalThis.fetch = createLeanFetch(),
  ) {
    this.agent = agent;
    this.service = service;
    const conn = (peer: PeerName) =>
      connect({
        id: parseDID(config.peers[peer].did) as never,
        codec: CAR.outbound,
        channel: HTTP.open({ url: new URL(config.peers[peer].url), method: 'POST', fetch: this.fetch }) as never,
      });
    this.connections = { upload: conn('upload'), indexer: conn('indexer'), gateway: conn('gateway') };
    this.indexerURL = new URL(config.peers.indexer.url);
  }

  static async create(config: UploadsConfig): Promise<UcanAgent> {
    await installNativeEd25519(); // same signatures, ~15x less CPU than ucanto's pure-JS default
    const agent = ed25519.parse(config.agentKey);
    const serviceKey = ed25519.parse(config.serviceKey.key);
    const service = config.serviceKey.did.startsWith('did:key:')
      ? serviceKey
      : serviceKey.withDID(config.serviceKey.did as `did:web:${string}`);
    const account = await Promise.all(config.proofs.account.map(decodeProof));
    const indexer = await Promise.all(config.proofs.indexer.map(decodeProof));
    return new UcanAgent(config, agent as unknown as Signer, service as unknown as Signer, account, indexer);
  }

  /**
   * The same agent (keys, proofs) whose requests all go through `wrap(fetch)`: a run's rate
   * control (peer-rates.ts). The sockets stay the ones of this agent's fetch.
   */
  withFetch(wrap: (inner: typeof globalThis.fetch) => typeof globalThis.fetch): UcanAgent {
    return new UcanAgent(
      this.config,
      this.agent,
      this.service,
      this.accountProofs,
      this.indexerProofs,
      wrap(this.fetch),
    );
  }

  /**
   * Claims the indexer holds for these multihashes (an unreadable answer is an error, never
   * "none"). The same request as the service's client sends, read by claims-query.ts.
   */
  async queryClaims(multihashes: Uint8Array[], space?: string): Promise<FoundClaim[]> {
    let res: Response;
    try {
      res = await this.fetch(claimsQueryUrl(this.indexerURL, multihashes, space), {
        headers: { 'Accept-Encoding': 'gzip' },
      });
    } catch (err) {
      throw new ServiceUnavailableError(`indexer query failed: ${toError(err).message}`, { cause: err });
    }
    if (!res.ok) {
      const message = `unexpected status: ${res.status}, message: ${(await res.text()).slice(0, 500)}`;
      if (res.status === 429) throw new ThrottledError(`indexer query: ${message}`);
      if (res.status >= 500) throw new ServiceUnavailableError(`indexer query failed: ${message}`);
      throw new ConvoyError('INDEXER_QUERY_FAILED', `indexer query: ${message}`, { retryable: false });
    }
    try {
      return decodeClaims(new Uint8Array(await res.arrayBuffer()));
    } catch (err) {
      throw new ServiceUnavailableError(`indexer query failed: ${toError(err).message}`, { cause: err });
    }
  }

  /** Execute; an error receipt named in `accept` counts as success (an idempotent step already done). */
  private async run(
    peer: PeerName,
    stepClass: ErrorClass,
    invocation: {
      execute(conn: unknown): Promise<{ out: { ok?: unknown; error?: { name?: string; message?: string } } }>;
    },
    accept: string[] = [],
  ) {
    let receipt;
    try {
      receipt = await invocation.execute(this.connections[peer]);
    } catch (err) {
      throw transportError(peer, err);
    }
    if (receipt.out.error && !accept.includes(receipt.out.error.name ?? ''))
      throw receiptError(peer, stepClass, receipt.out.error);
    return receipt.out.ok;
  }

  /** provider/add: provision a migration space under the operator account (already provisioned counts as done). */
  async provisionSpace(spaceDid: string): Promise<void> {
    await this.run(
      'upload',
      'MIGRATION_SPACE_FAILED',
      Provider.add.invoke({
        issuer: this.agent,
        audience: this.connections.upload.id,
        with: this.config.operatorAccount as `did:mailto:${string}`,
        nb: {
          provider: this.config.peers.upload.did as `did:web:${string}`,
          consumer: spaceDid as `did:key:${string}`,
        },
        proofs: this.accountProofs,
        nonce: nonce(),
      } as never) as never,
      ['SpaceAlreadyProvisioned'],
    );
  }

  /** space/blob/add (allocate -> PUT -> conclude -> accept) of `bytes` (sha2-256 multihash `multihash`) into a space we hold the key of. */
  async storeBlob(space: Signer, bytes: Uint8Array, multihash: Uint8Array, signal?: AbortSignal): Promise<void> {
    const digest = Digest.decode(multihash);
    try {
      await blobAdd(
        { issuer: space, with: space.did(), proofs: [], audience: this.connections.upload.id } as never,
        digest as never,
        bytes,
        {
          connection: this.connections.upload,
          retries: 0,
          nonce: nonce(),
          signal,
          fetch: this.fetch,
        } as never,
      );
    } catch (err) {
      throw this.fromClientError('INDEX_PUBLISH_FAILED', err);
    }
  }

  private fromClientError(stepClass: ErrorClass, err: unknown): ConvoyError {
    const e = toError(err) as Error & { cause?: { name?: string; message?: string } };
    if (e.cause && typeof e.cause === 'object' && 'name' in e.cause && !(e.cause instanceof Error))
      return receiptError('upload', stepClass, e.cause);
    const t = transportError('upload', e.cause instanceof Error ? e.cause : err);
    if (t.retryable || t.errorClass !== 'UNKNOWN') return t;
    return new ConvoyError(stepClass, `upload: ${e.message}`, { retryable: true, cause: err });
  }

  /** Register an index: assert/index to the indexing service (default) or space/index/add. */
  async registerIndex(root: string, indexLink: string, migrationSpace: Signer): Promise<void> {
    if (this.config.registration === 'space/index/add') {
      const index = CID.parse(indexLink);
      await this.run(
        'upload',
        'INDEX_PUBLISH_FAILED',
        SpaceIndex.add.invoke({
          issuer: migrationSpace,
          audience: this.connections.upload.id,
          with: migrationSpace.did(),
          nb: { index },
          nonce: nonce(),
        } as never) as never,
      );
      return;
    }
    await this.publishClaims([{ type: 'index', root, index: indexLink }]);
  }

  /** Re-publish a shard's location claim with the space, issued by the service key (no space: a legacy claim, for seeding). */
  async publishLocation(
    shardMultihash: Uint8Array,
    location: string,
    size: number,
    space: string | undefined,
  ): Promise<void> {
    await this.publishClaims([{ type: 'location', shardMultihash, location, size, space }]);
  }

  /**
   * Send claims to the indexing service in ONE request (ucanto carries several invocations in one
   * message, each with its own receipt): an upload's assert/index and its shards' assert/location
   * cost one round trip, not one each. The first failed receipt is thrown with its step's class;
   * the others may have succeeded, which is harmless (a retry looks before it asserts again).
   */
  async publishClaims(claims: ClaimToPublish[]): Promise<void> {
    const failed = (await this.publishClaimsSettled(claims)).find((e) => e !== undefined);
    if (failed) throw failed;
  }

  /**
   * The same request, each claim's receipt given back on its own: undefined for a claim the
   * indexer took, else the receipt's error with its step's class. Claims of several uploads can
   * share a request (claims-batcher.ts) and one refused claim fails only its upload. A transport
   * failure (HTTP status, network) is thrown: it is every claim's.
   */
  async publishClaimsSettled(claims: ClaimToPublish[]): Promise<Array<ConvoyError | undefined>> {
    if (!claims.length) return [];
    const invocations = claims.map((c) =>
      c.type === 'index' ? this.indexInvocation(c.root, c.index) : this.locationInvocation(c),
    );
    let receipts: Array<{ out: { ok?: unknown; error?: { name?: string; message?: string } } }>;
    try {
      receipts = (await (
        this.connections.indexer as unknown as { execute(...i: unknown[]): Promise<typeof receipts> }
      ).execute(...invocations)) as typeof receipts;
    } catch (err) {
      throw transportError('indexer', err);
    }
    return claims.map((claim, i) => {
      const error = receipts[i]?.out.error;
      if (!receipts[i])
        return new ServiceUnavailableError(`indexer: no receipt for claim ${i + 1} of ${claims.length}`);
      if (!error) return undefined;
      return receiptError('indexer', claim.type === 'index' ? 'INDEX_PUBLISH_FAILED' : 'LOCATION_CLAIM_FAILED', error);
    });
  }

  private indexInvocation(root: string, indexLink: string) {
    return Assert.index.invoke({
      issuer: this.agent,
      audience: this.connections.indexer.id,
      with: this.config.peers.indexer.did as `did:${string}:${string}`,
      nb: { content: CID.parse(root), index: CID.parse(indexLink) },
      proofs: this.indexerProofs,
      nonce: nonce(),
      expiration: Infinity,
    } as never);
  }

  private locationInvocation(c: Extract<ClaimToPublish, { type: 'location' }>) {
    return Assert.location.invoke({
      issuer: this.service,
      audience: this.connections.indexer.id,
      with: this.service.did(),
      nb: {
        content: { digest: c.shardMultihash },
        location: [c.location],
        range: { offset: 0, length: c.size },
        ...(c.space ? { space: Verifier.parse(c.space as `did:key:${string}`) } : {}),
      },
      nonce: nonce(),
      expiration: Infinity,
    } as never);
  }

  /** access/delegate to the gateway with a space/content/serve/* delegation (once per space). */
  async authorizeGateway(space: string, spaceProof: DelegationT): Promise<void> {
    const serve = await contentServe.delegate({
      issuer: this.agent,
      audience: parseDID(this.config.peers.gateway.did) as never,
      with: space as `did:key:${string}`,
      proofs: [spaceProof],
      expiration: Infinity,
    } as never);
    const invocation = Access.delegate.invoke({
      issuer: this.agent,
      audience: this.connections.gateway.id,
      with: space as `did:key:${string}`,
      nb: { delegations: { [serve.cid.toString()]: serve.cid } },
      proofs: [spaceProof, serve],
      nonce: nonce(),
    } as never);
    await this.run('gateway', 'GATEWAY_AUTH_FAILED', invocation as never);
  }
}
