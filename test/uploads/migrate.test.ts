/**
 * The uploads job end to end on the local stack and real UCAN peers (in one process, one
 * worker): every good upload registered and verified, the gateway authorized exactly once per
 * space, broken uploads failed with their class, and a second run registering nothing new.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import * as Server from '@ucanto/server';
import { ed25519 } from '@ucanto/principal';
import { encodeProof } from '../../worker/jobs/uploads/ucan.js';
import { base58btc } from 'multiformats/bases/base58';
import { CID } from 'multiformats/cid';
import type { planUploadsRun } from '../../worker/jobs/uploads/plan-command.js';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { makeS3Client } from '../../shared/s3-clients.js';
import { getRemote } from '../../shared/config.js';
import { uploadsRuntime } from '../../worker/jobs/uploads/runtime.js';
import { carparkKeys } from '../../worker/jobs/uploads/shard-source.js';
import { waitUntil, type TestStack } from '../helpers/stack.js';
import { itemsOfRun } from '../../state/item-bulk.js';
import { runUploadsToEnd, useUploadsStack, uploadsEnv, type UploadsEnv } from './helpers.js';
import type { UploadPeers } from '../../worker/jobs/uploads/local-peers/start-peers.js';

let t: TestStack;
let peers: UploadPeers;
useUploadsStack((s) => ({ t, peers } = s));

const runToEnd = (env: UploadsEnv, runId: string, opts: Parameters<typeof planUploadsRun>[1]) =>
  runUploadsToEnd(env, runId, opts);

describe('uploads job', () => {
  it('migrates every good upload, fails broken ones with their class, and is idempotent', async () => {
    const t0 = Date.now();
    const env = await uploadsEnv(t.stack, peers, {
      customers: 5,
      spaces: 20,
      uploads: 60,
      seed: 'e2e-small',
      brokenRate: 0.1,
      noShardsRate: 0.05,
      maxSmallBytes: 300 * 1024,
    });
    const seeded = env.seeded;
    if (process.env.DEBUG_UPLOADS) console.log('seeded in', Date.now() - t0, 'ms');
    const broken = seeded.uploads.filter((u) => u.broken);
    const noShards = seeded.uploads.filter((u) => u.noShards);
    expect(broken.length).toBeGreaterThan(0);
    const gatewayBefore = new Map(peers.gateway.authorizations);
    const claimsBefore = peers.indexer.received.length;

    const first = await runToEnd(env, 'up-1', { customer: seeded.customers });
    expect(first.uploads).toHaveLength(60);
    const byRoot = new Map(first.uploads.map((i) => [String(i.spec.root), i]));
    for (const u of seeded.uploads) {
      const item = byRoot.get(u.root)!;
      if (u.broken === 'missing-shard')
        expect([item.status, item.lastError?.errorClass]).toEqual(['failed', 'SHARD_NOT_FOUND']);
      else if (u.broken) expect([item.status, item.lastError?.errorClass]).toEqual(['failed', 'SHARD_CORRUPT']);
      else expect(item.status, `${u.root}: ${JSON.stringify(item.lastError)}`).toBe('done');
      if (u.broken) expect(item.attempts).toBe(1); // permanent: not retried
    }
    // every good upload: exactly one index registration; every shard re-published with the space
    for (const u of seeded.uploads.filter((x) => !x.broken)) {
      const rootB58 = base58btc.encode(CID.parse(u.root).multihash.bytes);
      expect(peers.indexer.indexRegistrations(rootB58), u.root).toBe(1);
      for (const s of u.shards) {
        const b58 = base58btc.encode(CID.parse(s).multihash.bytes);
        expect(
          peers.indexer.received.filter(
            (r) => r.type === 'assert/location' && r.content === b58 && r.space === u.space,
          ),
        ).toHaveLength(1);
      }
    }
    expect(noShards.every((u) => byRoot.get(u.root)!.metrics?.indexBuilt === 0)).toBe(true);
    // the gateway: exactly once for each space that has a good upload
    for (const s of seeded.spaces) {
      const good = seeded.uploads.some((u) => u.space === s.space && !u.broken);
      expect((peers.gateway.authorizations.get(s.space) ?? 0) - (gatewayBefore.get(s.space) ?? 0), s.space).toBe(
        good ? 1 : 0,
      );
    }

    // a second run over the same customers registers nothing new anywhere
    const claimsAfterFirst = peers.indexer.received.length;
    const gatewayAfterFirst = new Map(peers.gateway.authorizations);
    const second = await runToEnd(env, 'up-2', { customer: seeded.customers });
    expect(second.uploads.filter((i) => i.status === 'done')).toHaveLength(60 - broken.length);
    expect(peers.indexer.received.length).toBe(claimsAfterFirst);
    expect(peers.gateway.authorizations).toEqual(gatewayAfterFirst);
    expect(
      second.uploads.every((i) => !i.metrics || (i.metrics.indexBuilt === 0 && i.metrics.locationsPublished === 0)),
    ).toBe(true);
    expect(claimsAfterFirst).toBeGreaterThan(claimsBefore);
    env.close();
  }, 300_000);

  it('a bad delegation is UNAUTHORIZED and not retried; a peer answering 503 for a while is retried', async () => {
    const env = await uploadsEnv(t.stack, peers, {
      customers: 1,
      spaces: 2,
      uploads: 8,
      seed: 'faults',
      brokenRate: 0,
      noShardsRate: 0,
      maxSmallBytes: 100 * 1024,
    });
    const [bad, good] = env.seeded.spaces;
    // space 0's grant goes to somebody else: the agent cannot prove access/delegate on it
    const signer = await ed25519.derive(createHash('sha256').update('space:faults:0').digest());
    expect(signer.did()).toBe(bad!.space);
    const stranger = await ed25519.generate();
    const grant = await Server.delegate({
      issuer: signer,
      audience: stranger,
      capabilities: [
        { with: bad!.space, can: 'access/delegate' },
        { with: bad!.space, can: 'space/content/serve/*' },
      ],
      expiration: Infinity,
    } as never);
    await env.ctx.clients.ddb.send(
      new PutCommand({
        TableName: (env.uploadsConfig.source.tables as { delegation: string }).delegation,
        Item: { space: bad!.space, delegation: await encodeProof(grant as never) },
      }),
    );
    // The indexing service is down (every request 503) until an upload of the good space has
    // been handed the fault and gone back to the engine's retry: the claims batcher tries a batch
    // refused as a whole 4 times first (claims-batcher.ts), so a fixed number of 503s may all be
    // absorbed there. The gateway refuses its next 2 requests.
    peers.indexer.faults.failNext(1_000_000);
    peers.gateway.faults.failNext(2);
    const indexerBefore = peers.indexer.faults.refused;
    const gatewayBefore = peers.gateway.faults.refused;
    const run = runToEnd(env, 'faults-1', { customer: env.seeded.customers });
    try {
      await waitUntil(
        async () => {
          for await (const page of itemsOfRun(env.ctx.items, 'faults-1'))
            if (page.some((i) => i.spec.space === good!.space && i.lastError?.errorClass === 'SERVICE_UNAVAILABLE'))
              return true;
          return undefined;
        },
        { timeoutMs: 60_000, intervalMs: 100, what: 'an upload of the good space failed by the 503s' },
      );
    } finally {
      peers.indexer.faults.failNext(0);
    }
    const { uploads } = await run;
    expect(peers.indexer.faults.refused - indexerBefore).toBeGreaterThanOrEqual(4); // one batch's tries at least
    expect(peers.gateway.faults.refused - gatewayBefore).toBe(2);
    for (const item of uploads) {
      if (item.spec.space === bad!.space) {
        expect([item.status, item.lastError?.errorClass]).toEqual(['failed', 'UNAUTHORIZED']);
        // not retried: the one UNAUTHORIZED attempt ended the item (earlier attempts may have met the 503s)
        expect((item.history ?? []).filter((h) => h.errorClass === 'UNAUTHORIZED').map((h) => h.event)).toEqual([
          'failed',
        ]);
      } else {
        expect(item.spec.space).toBe(good!.space);
        expect(item.status, JSON.stringify(item.lastError)).toBe('done');
      }
    }
    expect(uploads.some((i) => i.spec.space === good!.space && i.attempts > 1)).toBe(true);
    expect(peers.gateway.authorizations.get(good!.space)).toBe(1);
    expect(peers.gateway.authorizations.get(bad!.space) ?? 0).toBe(0);
    env.close();
  }, 300_000);

  it('space/index/add registration: the upload service refuses shards outside the migration space; registers when they are in it', async () => {
    const env = await uploadsEnv(
      t.stack,
      peers,
      {
        customers: 1,
        spaces: 1,
        uploads: 4,
        seed: 'index-add',
        brokenRate: 0,
        noShardsRate: 0,
        maxSmallBytes: 100 * 1024,
      },
      { registration: 'space/index/add' },
    );
    const roots = env.seeded.uploads.map((u) => u.root);
    const b58 = (root: string) => base58btc.encode(CID.parse(root).multihash.bytes);
    // 1. the shards live in the customer's space, not in the migration space: ShardNotFound, permanent
    const first = await runToEnd(env, 'index-add-1', { customer: env.seeded.customers });
    for (const item of first.uploads) {
      expect([item.status, item.lastError?.errorClass, item.attempts]).toEqual(['failed', 'INDEX_PUBLISH_FAILED', 1]);
      expect(item.lastError?.message).toMatch(/ShardNotFound/);
    }
    for (const root of roots) expect(peers.indexer.indexRegistrations(b58(root))).toBe(0);

    // 2. with the shards registered in the migration space, space/index/add publishes the index
    const rt = await uploadsRuntime(env.ctx);
    const space = await rt.spaces.forCustomer(env.seeded.customers[0]!, rt.agent);
    const s3 = makeS3Client(getRemote(env.config, 'local'));
    for (const u of env.seeded.uploads) {
      for (const shard of u.shards) {
        const keys = carparkKeys(shard);
        const out = await s3
          .send(
            new GetObjectCommand({
              Bucket: rt.carpark.bucket,
              Key: u.protocol === 'blob' ? keys.blobKey : keys.carKey,
            }),
          )
          .then((o) => o.Body!.transformToByteArray());
        await rt.agent.storeBlob(space, out, CID.parse(shard).multihash.bytes);
      }
    }
    s3.destroy();
    const second = await runToEnd(env, 'index-add-2', { customer: env.seeded.customers });
    for (const item of second.uploads) expect(item.status, JSON.stringify(item.lastError)).toBe('done');
    for (const root of roots) {
      const regs = peers.indexer.received.filter((r) => r.type === 'assert/index' && r.content === b58(root));
      expect(regs).toHaveLength(1);
      expect(regs[0]!.issuer).toBe(peers.upload.did); // published by the upload service, not by the agent
    }
    env.close();
  }, 300_000);
});

/**
 * The gateway step of a space, as one worker process with many uploads of that space in flight
 * sees it: the gateway is authorized once, and while that takes its time the process's other
 * uploads of the space wait for it in the process instead of each polling the step in DynamoDB
 * (a claim and a read every 50 ms to 1 s per upload).
 */
describe('gateway step of a space, one worker process', () => {
  it('is authorized once, and the other uploads of the space wait in the process instead of polling the step', async () => {
    const env = await uploadsEnv(t.stack, peers, {
      customers: 1,
      spaces: 1,
      uploads: 24,
      seed: 'gateway-once',
      brokenRate: 0,
      noShardsRate: 0,
    });
    const space = env.seeded.uploads[0]!.space;
    // every request to the step's row (pk group#<run>#<group>), counted on the worker's own client
    const stepRequests: string[] = [];
    const ddb = env.ctx.meta.ddb;
    const send = ddb.send.bind(ddb) as (command: unknown, ...rest: unknown[]) => Promise<unknown>;
    (ddb as { send: unknown }).send = (
      command: { constructor: { name: string }; input?: { Key?: { pk?: unknown } } },
      ...rest: unknown[]
    ) => {
      if (String(command.input?.Key?.pk ?? '').startsWith('group#')) stepRequests.push(command.constructor.name);
      return send(command, ...rest);
    };
    // the gateway answers slowly: the first upload to claim the step holds it for 1.5 s
    peers.gateway.faults.latencyMs = 1_500;
    const gatewayBefore = peers.gateway.authorizations.get(space) ?? 0;
    try {
      const { status } = await runUploadsToEnd(env, 'gw-once', {});
      expect(status.counts.failed ?? 0).toBe(0);
    } finally {
      peers.gateway.faults.latencyMs = 0;
      (ddb as { send: unknown }).send = send;
      env.close();
    }
    expect((peers.gateway.authorizations.get(space) ?? 0) - gatewayBefore).toBe(1);
    // the one claim (UpdateCommand) and its completion (UpdateCommand); before, each waiting
    // upload claimed again (and read the row) until the step was done: dozens here
    expect(stepRequests, stepRequests.join(' ')).toEqual(['UpdateCommand', 'UpdateCommand']);
  });
});
