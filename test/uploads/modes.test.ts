/**
 * The uploads job's narrow modes, on the local stack and real UCAN peers (in one process, one
 * worker per run), each checked for what it must do AND for what it must leave alone (what a full
 * migrate would also do), on what the peers received:
 *   --test-index            builds, stores and registers missing indexes; no location claim, no gateway
 *   --test-location-claims  re-publishes legacy location claims with the space; no index, no
 *                           gateway; a shard with no claim at all fails, naming --repair
 *   --repair                rebuilds the location claims the indexer lost from the tables (at the
 *                           configured location base); no index, no gateway
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { base58btc } from 'multiformats/bases/base58';
import { CID } from 'multiformats/cid';
import { afterAll, describe, expect, it } from 'vitest';
import type { UploadPeers } from '../../worker/jobs/uploads/local-peers/start-peers.js';
import type { SeededUpload } from '../../worker/jobs/uploads/seed/seed.js';
import { getGroupStep } from '../../state/group-steps.js';
import { getMigrationSpace } from '../../worker/jobs/uploads/migration-space-rows.js';
import { getRun } from '../../state/runs.js';
import { silentLogger } from '../../shared/log.js';
import { uploadsKind } from '../../worker/jobs/uploads/job.js';
import type { planUploadsRun } from '../../worker/jobs/uploads/plan-command.js';
import { gatewayStep } from '../../worker/jobs/uploads/migrate-upload.js';
import { uploadsRuntime } from '../../worker/jobs/uploads/runtime.js';
import { carparkKeys } from '../../worker/jobs/uploads/shard-source.js';
import { shardRecord } from '../../worker/jobs/uploads/source-tables.js';
import type { UploadsSpec } from '../../worker/jobs/uploads/spec.js';
import type { TestStack } from '../helpers/stack.js';
import { publishLegacyLocations, runUploadsToEnd, useUploadsStack, uploadsEnv, type UploadsEnv } from './helpers.js';

let t: TestStack;
let peers: UploadPeers;
useUploadsStack((s) => ({ t, peers } = s));
const envs: UploadsEnv[] = [];
const dir = mkdtempSync(path.join(tmpdir(), 'convoy-uploads-modes-'));

afterAll(async () => {
  for (const env of envs) env.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Each test seeds its own data set (fresh tables, bucket, queue); the seed string keeps its content apart at the shared peers. */
async function modesEnv(...args: Parameters<typeof uploadsEnv>): Promise<UploadsEnv> {
  const env = await uploadsEnv(...args);
  envs.push(env);
  return env;
}

/** Plan, work the run to its end with one in-process worker, then `convoy verify` it. */
async function runToEnd(env: UploadsEnv, runId: string, opts: Parameters<typeof planUploadsRun>[1]) {
  const { uploads: items } = await runUploadsToEnd(env, runId, opts, { threads: 1, timeoutMs: 60_000 });
  const run = (await getRun(env.ctx.meta, runId))!;
  const summary = await uploadsKind.verify!(run, uploadsKind.specSchema.parse(run.spec) as UploadsSpec, env.ctx, {
    reportPath: path.join(dir, `${runId}.jsonl`),
    log: silentLogger,
  });
  const byRoot = new Map(items.map((i) => [String(i.spec.root), i]));
  return { summary, item: (u: SeededUpload) => byRoot.get(u.root)!, uploads: byRoot.size };
}

const b58 = (cid: string) => base58btc.encode(CID.parse(cid).multihash.bytes);

/** What the indexer received since `from` about these uploads' roots and shards. */
function receivedAbout(uploads: SeededUpload[], from: number) {
  const roots = new Set(uploads.map((u) => b58(u.root)));
  const shards = new Set(uploads.flatMap((u) => u.shards.map(b58)));
  const got = peers.indexer.received.slice(from);
  return {
    indexes: got.filter((r) => r.type === 'assert/index' && roots.has(r.content)),
    locations: got.filter((r) => r.type === 'assert/location' && shards.has(r.content)),
  };
}

/** The gateway was neither authorized nor even claimed (group step) for any of these spaces. */
async function expectGatewayUntouched(env: UploadsEnv) {
  for (const { space } of env.seeded.spaces) {
    expect(peers.gateway.authorizations.get(space) ?? 0, space).toBe(0);
    expect(await getGroupStep(env.ctx.meta, gatewayStep(space)), space).toBeUndefined();
  }
}

/** Blobs the upload service holds in the customer's migration space (none: no migration space). */
async function migrationSpaceBlobs(env: UploadsEnv, customer: string): Promise<string[]> {
  const row = await getMigrationSpace(env.ctx.meta, customer);
  if (!row) return [];
  const out = await peers.upload.context.registry.entries(row.spaceDid as `did:key:${string}`);
  if (out.error) throw out.error;
  return out.ok.results.map((e) => base58btc.encode(e.blob.digest.bytes));
}

/** The location a claim rebuilt or seeded for this shard points at, under `base`. */
function locationOf(u: SeededUpload, shard: string, base: string): string {
  const keys = carparkKeys(shard);
  return new URL(u.protocol === 'store' ? keys.carKey : keys.blobKey, base).toString();
}

describe('uploads modes', () => {
  it('--test-index builds, stores and registers the missing indexes, and nothing else; a second run registers nothing', async () => {
    const env = await modesEnv(t.stack, peers, {
      customers: 2,
      spaces: 4,
      uploads: 16,
      seed: 'modes-index',
      brokenRate: 0,
      noShardsRate: 0.2,
      maxSmallBytes: 100 * 1024,
    });
    const { uploads, customers } = env.seeded;
    const withShards = uploads.filter((u) => !u.noShards);
    const indexedAlready = uploads.filter((u) => u.noShards); // seeded with an existing index
    expect(indexedAlready.length).toBeGreaterThan(0);
    const from = peers.indexer.received.length;

    const first = await runToEnd(env, 'ti-1', { customer: customers, testIndex: true });
    expect(first.uploads).toBe(16);
    const got = receivedAbout(uploads, from);
    for (const u of withShards) {
      const item = first.item(u);
      expect(item.status, JSON.stringify(item.lastError)).toBe('done');
      expect(item.metrics?.indexBuilt).toBe(1);
      // registered once, and the index it names is the blob stored (space/blob/add) in the customer's migration space
      const regs = got.indexes.filter((r) => r.content === b58(u.root));
      expect(regs, u.root).toHaveLength(1);
      expect(await migrationSpaceBlobs(env, u.customer)).toContain(b58(regs[0]!.index!));
    }
    for (const u of indexedAlready) {
      expect(first.item(u).status).toBe('done');
      expect(first.item(u).metrics?.indexBuilt).toBe(0);
      expect(peers.indexer.indexRegistrations(b58(u.root))).toBe(1); // the seeded one only
    }
    expect(got.indexes).toHaveLength(withShards.length);
    // what a full migrate would also do, and this mode must not
    expect(got.locations).toEqual([]);
    expect(withShards.every((u) => first.item(u).metrics?.locationsPublished === 0)).toBe(true);
    await expectGatewayUntouched(env);

    // the job's own check agrees: indexes there, locations and gateway still missing
    const check = await runToEnd(env, 'ti-check', { customer: customers, verifyOnly: true });
    expect(check.summary.counts).toMatchObject({
      uploads: 16,
      missing_index: 0,
      missing_locations: withShards.length,
      missing_gateway: 16,
    });

    // a second run registers and stores nothing new
    const blobsBefore = await Promise.all(customers.map((c) => migrationSpaceBlobs(env, c)));
    const fromSecond = peers.indexer.received.length;
    const second = await runToEnd(env, 'ti-2', { customer: customers, testIndex: true });
    expect(uploads.every((u) => second.item(u).status === 'done' && second.item(u).metrics?.indexBuilt === 0)).toBe(
      true,
    );
    expect(peers.indexer.received.length).toBe(fromSecond);
    expect(await Promise.all(customers.map((c) => migrationSpaceBlobs(env, c)))).toEqual(blobsBefore);
    await expectGatewayUntouched(env);
  }, 60_000);

  it('--test-location-claims re-publishes legacy claims with the space, and nothing else; a shard without any claim fails naming --repair', async () => {
    const env = await modesEnv(
      t.stack,
      peers,
      {
        customers: 2,
        spaces: 4,
        uploads: 16,
        seed: 'modes-locations',
        brokenRate: 0,
        noShardsRate: 0,
        maxSmallBytes: 100 * 1024,
      },
      { legacyClaims: false },
    );
    const { uploads, customers } = env.seeded;
    // the indexer knows the legacy claims of all uploads but every fourth one
    const unknown = uploads.filter((_, i) => i % 4 === 0);
    const legacy = uploads.filter((_, i) => i % 4 !== 0);
    await publishLegacyLocations(env, legacy);
    const legacyBase = `https://${env.uploadsConfig.source.carpark?.bucket}.s3.amazonaws.com/`;
    const from = peers.indexer.received.length;

    const first = await runToEnd(env, 'tl-1', { customer: customers, testLocationClaims: true });
    expect(first.uploads).toBe(16);
    const got = receivedAbout(uploads, from);
    for (const u of legacy) {
      const item = first.item(u);
      expect(item.status, JSON.stringify(item.lastError)).toBe('done');
      expect(item.metrics?.locationsPublished).toBe(u.shards.length);
      for (const shard of u.shards) {
        // the legacy claim's location, now with the space
        const claims = got.locations.filter((r) => r.content === b58(shard));
        expect(
          claims.map((c) => [c.space, (c.location ?? []).map(String)]),
          shard,
        ).toEqual([[u.space, [locationOf(u, shard, legacyBase)]]]);
      }
    }
    for (const u of unknown) {
      const item = first.item(u);
      expect([item.status, item.lastError?.errorClass, item.attempts]).toEqual(['failed', 'LOCATION_CLAIM_FAILED', 1]); // permanent: not retried
      expect(item.lastError?.message).toMatch(/--repair/);
    }
    expect(got.locations).toHaveLength(legacy.reduce((a, u) => a + u.shards.length, 0)); // none for the unknown shards
    // what a full migrate would also do, and this mode must not: no index built, stored or registered, no gateway
    expect(got.indexes).toEqual([]);
    expect(legacy.every((u) => first.item(u).metrics?.indexBuilt === 0)).toBe(true);
    for (const c of customers) expect(await getMigrationSpace(env.ctx.meta, c), c).toBeUndefined();
    await expectGatewayUntouched(env);

    // a second run re-publishes nothing; the unknown ones still fail the same way
    const fromSecond = peers.indexer.received.length;
    const second = await runToEnd(env, 'tl-2', { customer: customers, testLocationClaims: true });
    expect(peers.indexer.received.length).toBe(fromSecond);
    expect(
      legacy.every((u) => second.item(u).status === 'done' && second.item(u).metrics?.locationsPublished === 0),
    ).toBe(true);
    expect(unknown.every((u) => second.item(u).lastError?.errorClass === 'LOCATION_CLAIM_FAILED')).toBe(true);
  }, 60_000);

  it('--repair rebuilds the location claims the indexer lost from the tables, at the configured base, and nothing else', async () => {
    // a base with a path and no trailing slash: locations must keep the whole path
    const publicUrl = 'https://carpark.repair.test/v1/carpark';
    const env = await modesEnv(
      t.stack,
      peers,
      {
        customers: 2,
        spaces: 3,
        uploads: 12,
        seed: 'modes-repair',
        brokenRate: 0,
        noShardsRate: 0,
        maxSmallBytes: 100 * 1024,
      },
      { legacyClaims: false, publicUrl },
    );
    const { uploads, customers } = env.seeded;
    // the indexer lost the location claims of two thirds of the uploads; it still has the legacy claims (no space) of the rest
    const lost = uploads.filter((_, i) => i % 3 !== 0);
    const legacy = uploads.filter((_, i) => i % 3 === 0);
    expect(new Set(lost.map((u) => u.protocol))).toEqual(new Set(['blob', 'store'])); // both key shapes are rebuilt
    await publishLegacyLocations(env, legacy);
    const legacyBase = `https://${env.uploadsConfig.source.carpark?.bucket}.s3.amazonaws.com/`;
    // the indexes exist already (as after an earlier run)
    await runToEnd(env, 'rp-index', { customer: customers, testIndex: true });
    const before = await runToEnd(env, 'rp-check-before', { customer: customers, verifyOnly: true });
    expect(before.summary.counts).toMatchObject({
      uploads: 12,
      missing_index: 0,
      missing_locations: 12,
      missing_gateway: 12,
    });
    const blobsBefore = await Promise.all(customers.map((c) => migrationSpaceBlobs(env, c)));
    const from = peers.indexer.received.length;

    const repair = await runToEnd(env, 'rp-1', { customer: customers, repair: true });
    const got = receivedAbout(uploads, from);
    const rt = await uploadsRuntime(env.ctx);
    for (const u of uploads) {
      const item = repair.item(u);
      expect(item.status, JSON.stringify(item.lastError)).toBe('done');
      expect(item.metrics?.locationsPublished).toBe(u.shards.length);
      for (const shard of u.shards) {
        const base = lost.includes(u) ? `${publicUrl}/` : legacyBase; // rebuilt at the configured base; copied from the legacy claim
        const claims = got.locations.filter((r) => r.content === b58(shard));
        expect(
          claims.map((c) => [c.space, (c.location ?? []).map(String), c.issuer]),
          shard,
        ).toEqual([[u.space, [locationOf(u, shard, base)], peers.upload.did]]);
        // the claimed range is the shard's size in the allocation or store table
        const record = await shardRecord(rt.tables, u.space, shard, b58(shard));
        const found = (await rt.agent.queryClaims([CID.parse(shard).multihash.bytes], u.space)).filter(
          (c) => c.type === 'assert/location' && c.space === u.space,
        );
        expect(
          found.map((c) => c.range),
          shard,
        ).toEqual([{ offset: 0, length: record!.size }]);
      }
    }
    // what a full migrate would also do, and this mode must not: no index, no blob, no gateway
    expect(got.indexes).toEqual([]);
    expect(await Promise.all(customers.map((c) => migrationSpaceBlobs(env, c)))).toEqual(blobsBefore);
    await expectGatewayUntouched(env);

    // the job's own check: no upload misses its index or a location claim with the space any more
    const after = await runToEnd(env, 'rp-check-after', { customer: customers, verifyOnly: true });
    expect(after.summary.counts).toMatchObject({
      uploads: 12,
      missing_index: 0,
      missing_locations: 0,
      missing_gateway: 12,
    });
    // repaired claims stay repaired: a second repair publishes nothing
    const fromSecond = peers.indexer.received.length;
    await runToEnd(env, 'rp-2', { customer: customers, repair: true });
    expect(peers.indexer.received.length).toBe(fromSecond);
    // a migrate then only authorizes the gateway, and the verify-only run finds nothing missing
    const migrated = await runToEnd(env, 'rp-migrate', { customer: customers });
    expect(migrated.summary.counts).toMatchObject({ uploads: 12, ok: 12 });
    expect(peers.indexer.received.length).toBe(fromSecond);
    for (const { space } of env.seeded.spaces) expect(peers.gateway.authorizations.get(space), space).toBe(1);
    const final = await runToEnd(env, 'rp-check-final', { customer: customers, verifyOnly: true });
    expect(final.summary.counts).toMatchObject({
      uploads: 12,
      ok: 12,
      missing_index: 0,
      missing_locations: 0,
      missing_gateway: 0,
    });
    expect(final.summary.clean).toBe(true);
  }, 60_000);
});
