/**
 * The lean reading of the indexing service's claims answers (claims-query.ts) gives the same
 * claims as the service's own client (`@storacha/indexing-service-client`, read the way the
 * migration read it before): answers built by that library from real signed claims of every shape
 * the migration meets (index; location with and without the space; content as a link and as a
 * digest), plus an index blob the migration never reads. Anything unreadable is an error.
 */
import * as Assert from '@storacha/capabilities/assert';
import * as Claim from '@storacha/indexing-service-client/claim';
import * as QueryResult from '@storacha/indexing-service-client/query-result';
import { ed25519 } from '@ucanto/principal';
import * as CAR from '@ucanto/core/car';
import { base58btc } from 'multiformats/bases/base58';
import { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import { sha256 } from 'multiformats/hashes/sha2';
import { describe, expect, it } from 'vitest';
import {
  ClaimsDecodeError,
  claimsQueryUrl,
  decodeClaims,
  type FoundClaim,
} from '../../worker/jobs/uploads/claims-query.js';

/** What ucan.ts made of the client's answer before claims-query.ts (the reference). */
async function viaClient(bytes: Uint8Array): Promise<FoundClaim[]> {
  const res = await QueryResult.extract(bytes);
  if (res.error) throw res.error;
  const out: FoundClaim[] = [];
  for (const claim of res.ok.claims.values()) {
    const c = claim as unknown as {
      type: string;
      content: { multihash?: { bytes: Uint8Array }; digest?: Uint8Array };
      space?: { did(): string };
      index?: CID;
      location?: string[];
      range?: { offset: number; length?: number };
    };
    const mh = c.content.multihash ? c.content.multihash.bytes : c.content.digest!;
    out.push({
      type: c.type,
      content: base58btc.encode(mh),
      space: c.space?.did(),
      index: c.index?.toString(),
      location: c.location?.map(String),
      range: c.range,
    });
  }
  return out;
}

const cidOf = async (s: string) => CID.create(1, raw.code, await sha256.digest(new TextEncoder().encode(s)));

async function answer(): Promise<Uint8Array> {
  const service = await ed25519.generate();
  const space = await ed25519.generate();
  const root = await cidOf('root');
  const shard = await cidOf('shard');
  const indexLink = await cidOf('index');
  const claims = [
    await Assert.index.delegate({
      issuer: service,
      audience: service,
      with: service.did(),
      nb: { content: root, index: indexLink },
      expiration: Infinity,
    }),
    // a legacy location claim: no space, content as a link
    await Assert.location.delegate({
      issuer: service,
      audience: service,
      with: service.did(),
      nb: { content: shard, location: ['https://carpark.example/a/a.car'], range: { offset: 0, length: 1234 } },
      expiration: Infinity,
    }),
    // the migration's: with the space, content as a digest
    await Assert.location.delegate({
      issuer: service,
      audience: service,
      with: service.did(),
      nb: {
        content: { digest: shard.multihash.bytes },
        location: ['https://carpark.example/b/b.blob'],
        range: { offset: 0, length: 99 },
        space: space.verifier,
      },
      expiration: Infinity,
    } as never),
  ];
  const result = await QueryResult.from({ claims: claims.map((d) => Claim.from(d as never)) as never });
  if (result.error) throw result.error;
  const archived = await result.ok.archive();
  if (archived.error) throw archived.error;
  return archived.ok;
}

describe('claims-query: the lean reading of claims answers', () => {
  it('reads the same claims as the service client, every shape the migration meets', async () => {
    const bytes = await answer();
    const lean = decodeClaims(bytes);
    expect(lean).toEqual(await viaClient(bytes));
    expect(lean.map((c) => c.type)).toEqual(['assert/index', 'assert/location', 'assert/location']);
    expect(lean[2]!.space).toMatch(/^did:key:/);
    expect(lean[1]!.space).toBeUndefined();
  });

  it('an answer that is not a query result is an error, never "no claims"', async () => {
    expect(() => decodeClaims(new Uint8Array([1, 2, 3]))).toThrow(ClaimsDecodeError);
    const other = CAR.encode({ roots: [] });
    expect(() => decodeClaims(other)).toThrow(/exactly one root/);
  });

  it('asks what the client asks', () => {
    const url = claimsQueryUrl(new URL('https://idx.example/'), [new Uint8Array([0x12, 0x01, 0xaa])], 'did:key:z6Mk');
    expect(url.pathname).toBe('/claims');
    expect([...url.searchParams.keys()]).toEqual(['multihash', 'spaces', 'type']);
    expect(url.searchParams.get('type')).toBe('standard');
  });
});
