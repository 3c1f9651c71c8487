/**
 * `convoy uploads show --space S --cid C [--run R]`: everything an operator needs to see about
 * one upload in one place (the legacy tool had a folder of scripts for this): its rows in the
 * legacy tables, each shard's size record and which carpark key holds it, the claims the
 * indexing service has (index; location claims with and without the space), the space's
 * gateway step and the customer's migration space (its DID only; never a key), and the upload's
 * items in uploads runs with their history. Reads only.
 */
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { base58btc } from 'multiformats/bases/base58';
import { CID } from 'multiformats/cid';
import { makeS3Client } from '../../../shared/s3-clients.js';
import type { ConvoyContext } from '../../../shared/context.js';
import { InputError } from '../../../shared/errors.js';
import { getGroupStep } from '../../../state/group-steps.js';
import { getItem } from '../../../state/items.js';
import type { ItemRow } from '../../../state/item-row.js';
import { getMigrationSpace } from './migration-space-rows.js';
import { getRun, listRuns } from '../../../state/runs.js';
import { parseRoot } from './dag-index.js';
import { KIND } from './expand.js';
import { gatewayStep } from './migrate-upload.js';
import type { UploadsRuntime } from './runtime.js';
import { carparkKeys } from './shard-source.js';
import { customerOfSpace, getUpload, shardRecord, shardsOf } from './source-tables.js';
import { itemIds } from './spec.js';
import type { FoundClaim } from './ucan.js';

export interface UploadView {
  space: string;
  root: string;
  customer?: string;
  upload?: { insertedAt?: string; shards: string[] };
  shards: Array<{
    cid: string;
    multihash: string;
    record?: { size: number; protocol: 'blob' | 'store' };
    key?: string;
    locationClaims: FoundClaim[];
  }>;
  indexClaim?: FoundClaim;
  claimsError?: string;
  gateway?: { status: string; attempts: number; doneAtMs?: number; lastError?: unknown };
  migrationSpace?: { did: string; provisioned: boolean };
  items: Array<
    Pick<ItemRow, 'runId' | 'status' | 'attempts' | 'lastError' | 'metrics' | 'history' | 'worker' | 'updatedAtMs'>
  >;
}

async function keyHolding(rt: UploadsRuntime, cid: string): Promise<string | undefined> {
  const s3 = makeS3Client(rt.carpark.remote);
  try {
    const keys = carparkKeys(cid);
    for (const key of [keys.blobKey, keys.carKey]) {
      try {
        await s3.send(new HeadObjectCommand({ Bucket: rt.carpark.bucket, Key: key }));
        return key;
      } catch (err) {
        const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
        if (e.name !== 'NotFound' && e.name !== 'NoSuchKey' && e.$metadata?.httpStatusCode !== 404) throw err;
      }
    }
    return undefined;
  } finally {
    s3.destroy();
  }
}

export async function showUpload(
  ctx: ConvoyContext,
  rt: UploadsRuntime,
  opts: { space: string; cid: string; run?: string; maxRuns?: number },
): Promise<UploadView> {
  if (!opts.space.startsWith('did:'))
    throw new InputError(`--space "${opts.space}" is not a DID; give the space's did:key:...`);
  const rootCid = parseRoot(opts.cid, '--cid');
  const view: UploadView = { space: opts.space, root: opts.cid, shards: [], items: [] };
  view.customer = await customerOfSpace(rt.tables, opts.space);
  const row = await getUpload(rt.tables, opts.space, opts.cid);
  const shardCids = row ? shardsOf(row) : [];
  if (row) view.upload = { insertedAt: row.insertedAt, shards: shardCids };
  let claims: FoundClaim[] = [];
  try {
    claims = await rt.agent.queryClaims(
      [rootCid.multihash.bytes, ...shardCids.map((s) => CID.parse(s).multihash.bytes)],
      opts.space,
    );
  } catch (err) {
    view.claimsError = (err as Error).message;
  }
  const rootB58 = base58btc.encode(rootCid.multihash.bytes);
  view.indexClaim = claims.find((c) => c.type === 'assert/index' && c.content === rootB58);
  for (const cid of shardCids) {
    const b58 = base58btc.encode(CID.parse(cid).multihash.bytes);
    const [record, key] = await Promise.all([shardRecord(rt.tables, opts.space, cid, b58), keyHolding(rt, cid)]);
    view.shards.push({
      cid,
      multihash: b58,
      record,
      key,
      locationClaims: claims.filter((c) => c.type === 'assert/location' && c.content === b58),
    });
  }
  const step = await getGroupStep(ctx.meta, gatewayStep(opts.space));
  if (step)
    view.gateway = { status: step.status, attempts: step.attempts, doneAtMs: step.doneAtMs, lastError: step.lastError };
  if (view.customer) {
    const ms = await getMigrationSpace(ctx.meta, view.customer);
    if (ms) view.migrationSpace = { did: ms.spaceDid, provisioned: Boolean(ms.provisionedAtMs) };
  }
  const itemId = itemIds.upload(opts.space, opts.cid);
  const runs = opts.run
    ? [await getRun(ctx.meta, opts.run)]
    : (await listRuns(ctx.meta)).filter((r) => r.kind === KIND).slice(0, opts.maxRuns ?? 10);
  if (opts.run && !runs[0]) throw new InputError(`--run ${opts.run}: no such run (convoy status lists runs)`);
  for (const run of runs) {
    const item = run && (await getItem(ctx.items, run.runId, itemId));
    if (item)
      view.items.push({
        runId: item.runId,
        status: item.status,
        attempts: item.attempts,
        lastError: item.lastError,
        metrics: item.metrics,
        history: item.history,
        worker: item.worker,
        updatedAtMs: item.updatedAtMs,
      });
  }
  return view;
}

const iso = (ms?: number) => (ms === undefined ? '-' : new Date(ms).toISOString());

export function formatUploadView(v: UploadView): string {
  const out: string[] = [];
  out.push(`upload   ${v.root}`);
  out.push(`space    ${v.space}`);
  out.push(`customer ${v.customer ?? '(no consumer row)'}`);
  if (!v.upload) out.push('row      (not in the upload table)');
  else out.push(`row      inserted ${v.upload.insertedAt ?? '?'}, ${v.upload.shards.length} shard(s)`);
  out.push(
    `index    ${v.claimsError ? `(claims query failed: ${v.claimsError})` : v.indexClaim ? `claimed: ${v.indexClaim.index}` : 'no index claim'}`,
  );
  for (const s of v.shards) {
    out.push(`shard    ${s.cid}`);
    out.push(
      `  size     ${s.record ? `${s.record.size} bytes (${s.record.protocol} table)` : 'in neither the allocation nor the store table'}`,
    );
    out.push(`  carpark  ${s.key ?? 'MISSING under both key shapes'}`);
    if (!s.locationClaims.length) out.push('  location no claim');
    for (const c of s.locationClaims)
      out.push(
        `  location ${c.location?.join(' ') ?? '?'} ${c.space === v.space ? '(with the space)' : c.space ? `(space ${c.space})` : '(without a space)'}`,
      );
  }
  out.push(
    `gateway  ${v.gateway ? `${v.gateway.status} (attempts ${v.gateway.attempts}${v.gateway.doneAtMs ? `, done ${iso(v.gateway.doneAtMs)}` : ''})` : 'not authorized by convoy'}`,
  );
  out.push(
    `migration space ${v.migrationSpace ? `${v.migrationSpace.did}${v.migrationSpace.provisioned ? '' : ' (not provisioned yet)'}` : '(none yet)'}`,
  );
  if (!v.items.length) out.push('items    none in uploads runs');
  for (const i of v.items) {
    out.push(
      `item     run ${i.runId}: ${i.status}, ${i.attempts} attempt(s)${i.worker ? `, worker ${i.worker}` : ''}, updated ${iso(i.updatedAtMs)}`,
    );
    if (i.lastError)
      out.push(
        `  error    ${i.lastError.errorClass}${i.lastError.retryable ? ' (retryable)' : ''}: ${i.lastError.message}`,
      );
    if (i.metrics)
      out.push(
        `  metrics  ${Object.entries(i.metrics)
          .map(([k, n]) => `${k}=${n}`)
          .join(' ')}`,
      );
    for (const h of i.history ?? [])
      out.push(
        `  ${iso(h.atMs)}  ${h.event}${h.worker ? ` by ${h.worker}` : ''}${h.errorClass ? ` (${h.errorClass})` : ''}`,
      );
  }
  return out.join('\n') + '\n';
}
