/**
 * The indexing service's claims query (`GET /claims?multihash=..&spaces=..&type=standard`), read
 * the lean way. The service's client (`@storacha/indexing-service-client`) turns every claim of
 * the answer into a validated capability (`capability.create`: ucanto's schema readers, which
 * build and throw errors to try each branch of a union such as "link or digest"), decodes the
 * index blobs of the answer, and copies every field; the migration needs five fields of each
 * claim. Here the answer's CAR is decoded once, each claim's UCAN is viewed (its payload decoded
 * once) and its capability's fields are read as they are, with the same checks the migration
 * relies on: a claim without content, or an answer that is not a query result, is an error
 * (never "no claims"). Same request, same bytes on the wire, same FoundClaim values.
 */
import * as CBOR from '@ipld/dag-cbor';
import * as DID from '@ipld/dag-ucan/did';
import * as CAR from '@ucanto/core/car';
import * as Delegation from '@ucanto/core/delegation';
import { base58btc } from 'multiformats/bases/base58';
import type { CID } from 'multiformats/cid';

const RESULT_VERSION = 'index/query/result@0.1';

/** A claim the indexer holds, reduced to what the migration decides on. */
export interface FoundClaim {
  type: string;
  /** base58btc multihash of the content */
  content: string;
  space?: string;
  index?: string;
  location?: string[];
  range?: { offset: number; length?: number };
}

/** The answer was not a readable query result (a broken or unexpected service: an error, not "none"). */
export class ClaimsDecodeError extends Error {
  override name = 'ClaimsDecodeError';
}

/** The query's URL: what the service's client sends, parameter for parameter. */
export function claimsQueryUrl(serviceURL: URL, hashes: Uint8Array[], space?: string): URL {
  const url = new URL('/claims', serviceURL);
  for (const h of hashes) url.searchParams.append('multihash', base58btc.encode(h));
  if (space) url.searchParams.append('spaces', space);
  url.searchParams.append('type', 'standard');
  return url;
}

interface RawCapability {
  can: string;
  nb?: {
    content?: { multihash?: { bytes: Uint8Array }; digest?: Uint8Array };
    space?: Uint8Array;
    index?: CID;
    location?: unknown[];
    range?: { offset: number; length?: number };
  };
}

/** A query answer (CAR bytes) -> its claims. Throws ClaimsDecodeError for anything unreadable. */
export function decodeClaims(bytes: Uint8Array): FoundClaim[] {
  let roots;
  let blocks;
  try {
    ({ roots, blocks } = CAR.decode(bytes));
  } catch (err) {
    throw new ClaimsDecodeError(`not a CAR: ${(err as Error).message}`);
  }
  if (roots.length !== 1) throw new ClaimsDecodeError('expected exactly one root');
  const root = CBOR.decode(roots[0]!.bytes) as Record<string, { claims?: CID[] } | undefined>;
  const result = root?.[RESULT_VERSION];
  if (!result || typeof result !== 'object')
    throw new ClaimsDecodeError(`unknown query result version: ${Object.keys(root ?? {}).join(',')}`);
  const out: FoundClaim[] = [];
  for (const link of result.claims ?? []) {
    let cap: RawCapability | undefined;
    try {
      cap = Delegation.view({ root: link as never, blocks: blocks as never }).capabilities[0] as unknown as
        | RawCapability
        | undefined;
    } catch (err) {
      throw new ClaimsDecodeError(`decoding claim: ${link}: ${(err as Error).message}`);
    }
    if (!cap || typeof cap.can !== 'string' || !cap.can.startsWith('assert/'))
      throw new ClaimsDecodeError(`claim ${link}: unsupported capability ${cap?.can}`);
    const nb = cap.nb ?? {};
    const content = nb.content?.multihash?.bytes ?? nb.content?.digest;
    if (!(content instanceof Uint8Array)) throw new ClaimsDecodeError(`claim ${link}: no content`);
    out.push({
      type: cap.can,
      content: base58btc.encode(content),
      space: nb.space instanceof Uint8Array ? DID.decode(nb.space).did() : undefined,
      index: nb.index?.toString(),
      location: nb.location?.map(String),
      range: nb.range,
    });
  }
  return out;
}
