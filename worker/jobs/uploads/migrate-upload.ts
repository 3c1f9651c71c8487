/**
 * One upload's migration, as a sequence of idempotent steps. Each step first looks at what the
 * peers already hold, so a redelivered or retried item re-does only what is missing and nothing
 * is registered twice:
 *
 *   1. the upload's shards (carried in the item, else read from the upload row); ask the indexer
 *      for the root's index claim and the shards' location claims (one query)
 *                                                               no shards, no index -> NO_SHARDS_NO_INDEX
 *   2. index missing: stream every shard from the carpark through the indexer (whole-shard
 *      sha256, per-block verification; on the event loop up to 8 MiB, larger shards in piscina
 *      threads: shard-source.ts INDEX_HERE_MAX_BYTES), build the sharded DAG index,
 *      space/blob/add it into the customer's migration space
 *   3. register the index and re-publish assert/location (with the space) for shards whose claims
 *      lack it: all in ONE request to the indexing service (or space/index/add, if configured)
 *   4. authorize the gateway for the space: a group step, once per space across the fleet; a
 *      process remembers the spaces it has seen done (no I/O for the space's other uploads)
 *   5. verify by querying again                                  anything missing -> VERIFICATION_FAILED
 * The lease is checked before every side effect. Modes narrow the steps (see spec.ts).
 * Round trips per upload (single shard, index missing, gateway already done): one claims query,
 * one S3 GET, blob/add (invoke, PUT, conclude, receipt), one claims batch, one verifying query.
 * The three indexer calls go through the process's claims batcher (claims-batcher.ts), which
 * sends those of a space's uploads in flight together: fewer than one request each per upload.
 */
import { base58btc } from 'multiformats/bases/base58';
import { CID } from 'multiformats/cid';
import { ConvoyError, NotFoundError } from '../../../shared/errors.js';
import { sleepOrThrow } from '../../../shared/sleep.js';
import {
  claimGroupStep,
  completeGroupStep,
  failGroupStep,
  getGroupStep,
  type GroupStepRef,
} from '../../../state/group-steps.js';
import type { ItemRow } from '../../../state/item-row.js';
import type { ItemContext, ItemOutcome } from '../../job-kind.js';
import type { ShardIndex } from './car-stream-index.js';
import type { ClaimsBatcher } from './claims-batcher.js';
import { buildDagIndex } from './dag-index.js';
import type { UploadsRuntime } from './runtime.js';
import {
  carparkKeys,
  INDEX_HERE_MAX_BYTES,
  indexShardHere,
  resultToIndex,
  type ShardIndexResult,
  type ShardSource,
} from './shard-source.js';
import { getSpaceDelegation, getUpload, shardRecord, shardsOf } from './source-tables.js';
import type { ItemSpec, Mode, UploadsSpec } from './spec.js';
import { decodeProof, type ClaimToPublish, type FoundClaim } from './ucan.js';
import { CAR_INDEX_TASK } from './car-index-task.js';

export const gatewayStep = (space: string): GroupStepRef => ({ scope: 'uploads', group: space, step: 'gateway' });

/**
 * How long a claim on a space's gateway step holds: one access/delegate round trip needs far
 * less, and a claimer that died blocks the space's other uploads (they wait) until it runs out.
 * A claimer slower than this may see another worker authorize too: the delegation is the same
 * (deterministic), which a gateway stores once.
 */
const GATEWAY_STEP_LEASE_MS = 20_000;

export interface Shard {
  cid: string;
  multihash: Uint8Array;
  b58: string;
}

export interface UploadState {
  indexClaim?: FoundClaim;
  /** shard b58 -> location claims */
  locations: Map<string, FoundClaim[]>;
}

export function shardOf(cid: string): Shard {
  const parsed = CID.parse(cid);
  return { cid, multihash: parsed.multihash.bytes, b58: base58btc.encode(parsed.multihash.bytes) };
}

/**
 * An indexer's answer sorted by what the claims are about (base58btc multihash): the index claim
 * of each root (the last one answered) and the location claims of each shard. Exported for
 * test/bench/uploads-floor.ts, whose batched mode asks about many roots at once.
 */
export function claimsByContent(claims: FoundClaim[]): {
  index: Map<string, FoundClaim>;
  locations: Map<string, FoundClaim[]>;
} {
  const index = new Map<string, FoundClaim>();
  const locations = new Map<string, FoundClaim[]>();
  for (const c of claims) {
    if (c.type === 'assert/index') index.set(c.content, c);
    else if (c.type === 'assert/location') {
      const list = locations.get(c.content);
      if (list) list.push(c);
      else locations.set(c.content, [c]);
    }
  }
  return { index, locations };
}

/**
 * One claims query for the root and the shards (through the process's claims batcher: with the
 * space's other uploads), sorted into the index claim and each shard's location claims. Exported
 * (with shardOf and hasSpace) for test/bench/uploads-floor.ts, which makes the same calls without
 * the engine (straight to the agent).
 */
export async function lookAround(
  indexer: Pick<ClaimsBatcher, 'queryClaims'>,
  root: string,
  shards: Shard[],
  space: string,
): Promise<UploadState> {
  const rootMh = CID.parse(root).multihash.bytes;
  const sorted = claimsByContent(await indexer.queryClaims([rootMh, ...shards.map((s) => s.multihash)], space));
  return {
    indexClaim: sorted.index.get(base58btc.encode(rootMh)),
    locations: new Map(shards.map((s) => [s.b58, sorted.locations.get(s.b58) ?? []])),
  };
}

export const hasSpace = (claims: FoundClaim[] | undefined, space: string) =>
  (claims ?? []).some((c) => c.space === space);

export interface UploadOutcome extends ItemOutcome {
  indexBuilt: number;
  locationsPublished: number;
  gatewayAuthorized: number;
  missingIndex: number;
  missingLocations: number;
  missingGateway: number;
}

export async function migrateUpload(
  item: ItemRow,
  ictx: ItemContext<UploadsSpec>,
  rt: UploadsRuntime,
): Promise<UploadOutcome> {
  // in flight for the claims batcher: the space's batches wait for this upload only while it runs
  const through = rt.claims.enter((item.spec as Extract<ItemSpec, { type: 'upload' }>).space);
  try {
    return await migrateSteps(item, ictx, rt);
  } finally {
    through();
  }
}

async function migrateSteps(item: ItemRow, ictx: ItemContext<UploadsSpec>, rt: UploadsRuntime): Promise<UploadOutcome> {
  const spec = item.spec as Extract<ItemSpec, { type: 'upload' }>;
  const mode: Mode = ictx.spec.mode;
  const { space, root, customer } = spec;
  const out: UploadOutcome = {
    bytes: 0,
    objects: 1,
    indexBuilt: 0,
    locationsPublished: 0,
    gatewayAuthorized: 0,
    missingIndex: 0,
    missingLocations: 0,
    missingGateway: 0,
  };
  const shards = (await shardsOfUpload(rt, spec)).map(shardOf);

  if (mode === 'dry-run') {
    const records = await Promise.all(shards.map((s) => shardRecord(rt.tables, space, s.cid, s.b58)));
    for (const r of records) out.bytes += r?.size ?? 0;
    out.shards = shards.length;
    out.shardsUnknown = records.filter((r) => !r).length;
    return out;
  }

  const before = await lookAround(rt.claims, root, shards, space);
  if (!before.indexClaim && shards.length === 0) {
    throw new ConvoyError(
      'NO_SHARDS_NO_INDEX',
      `upload ${root} in ${space} has no shards and no index: nothing to build an index from`,
      { retryable: false },
    );
  }
  const wantIndex = mode === 'migrate' || mode === 'test-index';
  const wantLocations = mode === 'migrate' || mode === 'test-location-claims' || mode === 'repair';
  const wantGateway = mode === 'migrate';

  if (mode === 'verify-only') {
    out.missingIndex = before.indexClaim ? 0 : 1;
    out.missingLocations = shards.filter((s) => !hasSpace(before.locations.get(s.b58), space)).length;
    out.shards = shards.length;
    out.missingGateway = (await gatewayIsDone(rt, ictx, space)) ? 0 : 1;
    return out;
  }

  const claims: ClaimToPublish[] = [];
  let built: Map<string, ShardIndex & { key?: string }> | undefined;
  if (wantIndex && !before.indexClaim) {
    built = await indexShards(rt, ictx, shards);
    const index = await buildDagIndex(root, built.values());
    for (const s of built.values()) out.bytes += s.size;
    const migrationSpace = await rt.spaces.forCustomer(customer, rt.agent);
    ictx.assertLease();
    await rt.agent.storeBlob(migrationSpace, index.bytes, index.multihash, ictx.signal);
    ictx.assertLease();
    if (rt.config.registration === 'space/index/add') await rt.agent.registerIndex(root, index.link, migrationSpace);
    else claims.push({ type: 'index', root, index: index.link });
    out.indexBuilt = 1;
  }

  if (wantLocations) {
    for (const shard of shards) {
      const found = before.locations.get(shard.b58) ?? [];
      if (hasSpace(found, space)) continue;
      const base = found.find((c) => c.location?.length);
      let location = base?.location?.[0];
      let size = base?.range?.length;
      if (!location || size === undefined) {
        // no claim to copy (the indexer lost it): rebuild it from the tables and the bucket layout
        if (mode !== 'repair' && !built)
          throw new ConvoyError(
            'LOCATION_CLAIM_FAILED',
            `shard ${shard.cid} of ${root} has no location claim to re-publish; run with --repair to rebuild it from the tables`,
            { retryable: false },
          );
        const record = await shardRecord(rt.tables, space, shard.cid, shard.b58);
        const keys = carparkKeys(shard.cid);
        const key = built?.get(shard.b58)?.key ?? (record?.protocol === 'store' ? keys.carKey : keys.blobKey);
        size = built?.get(shard.b58)?.size ?? record?.size;
        if (size === undefined)
          throw new NotFoundError(
            'SHARD_NOT_FOUND',
            `shard ${shard.cid} of ${root} is in neither the allocation nor the store table`,
          );
        location = new URL(key, rt.carpark.publicUrl).toString();
      }
      claims.push({ type: 'location', shardMultihash: shard.multihash, location, size, space });
    }
  }
  if (claims.length) {
    ictx.assertLease();
    await rt.claims.publish(space, claims); // the index and every location claim in one request, with the space's others
    out.locationsPublished = claims.filter((c) => c.type === 'location').length;
  }

  if (wantGateway) out.gatewayAuthorized = (await ensureGateway(rt, ictx, item, space)) === 'authorized' ? 1 : 0;

  // verify: ask again; what this run was asked to do must now be there
  const after = await lookAround(rt.claims, root, shards, space);
  const problems: string[] = [];
  if (wantIndex && !after.indexClaim) problems.push('no index claim');
  if (wantLocations) {
    const missing = shards.filter((s) => !hasSpace(after.locations.get(s.b58), space));
    if (missing.length) problems.push(`${missing.length} shard(s) without a location claim for the space`);
  }
  if (wantGateway && !(await gatewayIsDone(rt, ictx, space))) problems.push('gateway not authorized');
  if (problems.length)
    throw new ConvoyError('VERIFICATION_FAILED', `upload ${root}: ${problems.join('; ')}`, { retryable: true });
  return out;
}

/** The upload's shards: from the item when it carries them, else from the upload row. */
async function shardsOfUpload(rt: UploadsRuntime, spec: Extract<ItemSpec, { type: 'upload' }>): Promise<string[]> {
  if (spec.shards) return spec.shards;
  const row = await getUpload(rt.tables, spec.space, spec.root);
  if (!row)
    throw new NotFoundError(
      'UPLOAD_NOT_FOUND',
      `no upload ${spec.root} in space ${spec.space} (table ${rt.tables.names.upload})`,
    );
  return shardsOf(row);
}

/** Whether the space's gateway step is done (remembered per process once seen: done is final). */
async function gatewayIsDone(rt: UploadsRuntime, ictx: ItemContext<UploadsSpec>, space: string): Promise<boolean> {
  if (rt.gatewayDone.has(space)) return true;
  const done = (await getGroupStep(ictx.ctx.meta, gatewayStep(space)))?.status === 'done';
  if (done) rt.gatewayDone.add(space);
  return done;
}

async function indexShards(
  rt: UploadsRuntime,
  ictx: ItemContext<UploadsSpec>,
  shards: Shard[],
): Promise<Map<string, ShardIndex & { key?: string }>> {
  const results = await Promise.all(
    shards.map(async (shard) => {
      const keys = carparkKeys(shard.cid);
      const source: ShardSource = {
        type: 's3',
        remote: rt.carpark.remote,
        bucket: rt.carpark.bucket,
        keys: [keys.blobKey, keys.carKey],
      };
      const here = await indexShardHere(source, {
        maxBytes: INDEX_HERE_MAX_BYTES,
        label: shard.cid,
        signal: ictx.signal,
      });
      const index =
        'index' in here
          ? here.index
          : resultToIndex(
              await ictx.pool.run<ShardIndexResult>(
                CAR_INDEX_TASK,
                { source: { ...source, keys: [here.larger.key] }, label: shard.cid },
                { signal: ictx.signal },
              ),
            );
      if (base58btc.encode(index.shardMultihash) !== shard.b58) {
        throw new ConvoyError(
          'SHARD_CORRUPT',
          `shard ${shard.cid}: its bytes hash to ${base58btc.encode(index.shardMultihash)}, not to its CID`,
          { retryable: false },
        );
      }
      return [shard.b58, index] as const;
    }),
  );
  return new Map(results);
}

/**
 * Authorize the gateway for a space exactly once across the fleet: claim the group step by
 * conditional write; others wait for it (polling, bounded by the holder's lease) instead of
 * invoking again. Within one process a space has one such upload at a time (`gatewayPending`):
 * its other uploads wait for that one to be through, then find the step done (`gatewayDone`), or
 * take over if it failed. Without that, every upload of a space in flight polled the step (a
 * claim and a read each time): 0.4-0.8 DynamoDB requests per upload in bench:uploads.
 */
async function ensureGateway(
  rt: UploadsRuntime,
  ictx: ItemContext<UploadsSpec>,
  item: ItemRow,
  space: string,
): Promise<'authorized' | 'already'> {
  for (;;) {
    if (rt.gatewayDone.has(space)) return 'already';
    const pending = rt.gatewayPending.get(space);
    if (!pending) break;
    await settledOrAborted(pending, ictx.signal);
    ictx.assertLease();
  }
  const attempt = claimGateway(rt, ictx, item, space);
  // gone from the map before the waiters resume: they see the step done, or take over
  const through = () => void rt.gatewayPending.delete(space);
  rt.gatewayPending.set(space, attempt.then(through, through));
  return attempt;
}

/** Wait for `settled` (which never rejects), or throw the signal's reason (a lost lease) first. */
function settledOrAborted(settled: Promise<void>, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    void settled.then(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    });
  });
}

/** This process's one claim of the space's gateway step: authorize, or wait for another process's. */
async function claimGateway(
  rt: UploadsRuntime,
  ictx: ItemContext<UploadsSpec>,
  item: ItemRow,
  space: string,
): Promise<'authorized' | 'already'> {
  const ref = gatewayStep(space);
  const owner = `${item.leaseOwner ?? 'worker'}:${item.itemId}`;
  for (let waited = 0; ; waited++) {
    ictx.assertLease();
    const claim = await claimGroupStep(ictx.ctx.meta, ref, owner, GATEWAY_STEP_LEASE_MS);
    if (claim.outcome === 'done') {
      rt.gatewayDone.add(space);
      return 'already';
    }
    if (claim.outcome === 'held') {
      await sleepOrThrow(Math.min(1_000, 50 * 2 ** Math.min(waited, 5)), ictx.signal);
      continue;
    }
    try {
      const b64 = await getSpaceDelegation(rt.tables, space);
      if (!b64)
        throw new ConvoyError(
          'MISSING_DELEGATION',
          `no delegation for space ${space} in table ${rt.tables.names.delegation}: the agent cannot authorize the gateway`,
          { retryable: false },
        );
      const proof = await decodeProof(b64);
      ictx.assertLease();
      await rt.agent.authorizeGateway(space, proof);
    } catch (err) {
      const e =
        err instanceof ConvoyError
          ? err
          : new ConvoyError('GATEWAY_AUTH_FAILED', (err as Error).message, { retryable: true, cause: err });
      await failGroupStep(ictx.ctx.meta, ref, owner, {
        errorClass: e.errorClass,
        message: e.message.slice(0, 500),
      }).catch(() => undefined);
      throw e;
    }
    if ((await completeGroupStep(ictx.ctx.meta, ref, owner, { by: owner })) === 'lost') {
      throw new ConvoyError('GATEWAY_AUTH_FAILED', `gateway step of ${space} was taken over while authorizing`, {
        retryable: true,
      });
    }
    rt.gatewayDone.add(space);
    return 'authorized';
  }
}
