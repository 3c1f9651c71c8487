/**
 * Fixtures for the uploads tests: a local stack, the UCAN peers, a seeded data set on fresh
 * tables and a fresh bucket, and a context whose uploads config points at all of it.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { startUploadPeers, type UploadPeers } from '../../worker/jobs/uploads/local-peers/start-peers.js';
import {
  seedUploads,
  type SeededUpload,
  type SeedOptions,
  type SeedSummary,
} from '../../worker/jobs/uploads/seed/seed.js';
import { makeS3Client } from '../../shared/s3-clients.js';
import { getRemote } from '../../shared/config.js';
import {
  parseUploadsConfig,
  setUploadsConfig,
  UPLOADS_CONFIG_FILE,
  type UploadsConfigInput,
} from '../../worker/jobs/uploads/config.js';
import { STACK_FILE, type StackFile } from '../../shared/config.js';
import { carparkKeys } from '../../worker/jobs/uploads/shard-source.js';
import { shardRecord } from '../../worker/jobs/uploads/source-tables.js';
import { UcanAgent } from '../../worker/jobs/uploads/ucan.js';
import { base58btc } from 'multiformats/bases/base58';
import { CID } from 'multiformats/cid';
import { afterAll, beforeAll } from 'vitest';
import { freshEnv, startTestStack, waitUntil, type TestEnv, type TestStack } from '../helpers/stack.js';
import { runStatus } from '../../coordinator/status.js';
import { itemsOfRun } from '../../state/item-bulk.js';
import type { ItemRow } from '../../state/item-row.js';
import { planUploadsRun } from '../../worker/jobs/uploads/plan-command.js';
import { Worker } from '../../worker/worker.js';
import type { LocalStack } from '../../infra/local/stack.js';

export interface UploadsEnv extends TestEnv {
  peers: UploadPeers;
  config: TestEnv['config'];
  uploadsConfig: UploadsConfigInput;
  seeded: SeedSummary;
}

export interface UploadsEnvOptions {
  registration?: 'assert/index' | 'space/index/add';
  /**
   * Publish the seeded uploads' legacy location claims (and the existing index of uploads without
   * shards) to the indexer. false: the indexer holds none, as if it had lost them; give back some
   * with `publishLegacyLocations` (seed with `noShardsRate: 0`, their index is not registered).
   * @defaultValue true
   */
  legacyClaims?: boolean;
  /** source.carpark.publicUrl: the base of locations rebuilt from the tables (--repair) */
  publicUrl?: string;
}

export async function uploadsEnv(
  stack: LocalStack,
  peers: UploadPeers,
  seed: SeedOptions,
  opts: UploadsEnvOptions = {},
): Promise<UploadsEnv> {
  const env = await freshEnv(stack);
  const suffix = randomBytes(3).toString('hex');
  const tables = {
    consumer: `consumer-${suffix}`,
    upload: `upload-${suffix}`,
    allocation: `allocation-${suffix}`,
    store: `store-${suffix}`,
    delegation: `delegation-${suffix}`,
  };
  const uploadsConfig: UploadsConfigInput = {
    ...peers.config,
    source: {
      tables,
      carpark: {
        remote: 'local',
        bucket: `carpark-${suffix}`,
        ...(opts.publicUrl ? { publicUrl: opts.publicUrl } : {}),
      },
    },
    registration: opts.registration ?? 'assert/index',
  };
  const parsed = parseUploadsConfig(uploadsConfig, 'test', {});
  setUploadsConfig(env.config, uploadsConfig);
  const remote = getRemote(env.config, 'local');
  const s3 = makeS3Client(remote);
  const rawDdb = new DynamoDBClient({
    region: 'us-east-1',
    endpoint: stack.endpoints.dynamodb,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  try {
    const seeded = await seedUploads(
      {
        ddb: env.ctx.clients.ddb,
        rawDdb,
        s3,
        bucket: parsed.source.carpark.bucket,
        tables: parsed.source.tables,
        agentDid: peers.agentDid,
        agent: opts.legacyClaims === false ? undefined : await UcanAgent.create(parsed),
      },
      seed,
    );
    return { ...env, peers, uploadsConfig, seeded };
  } finally {
    s3.destroy();
    rawDdb.destroy();
  }
}

export { startUploadPeers };

/**
 * A test file's local stack and UCAN peers: started before its tests (then `onReady`), closed
 * after them, after the file's own afterAll hooks (vitest runs those in reverse order), so a
 * file's envs and proxies close while the stack still answers.
 */
export function useUploadsStack(onReady: (s: { t: TestStack; peers: UploadPeers }) => void): void {
  let t: TestStack | undefined;
  let peers: UploadPeers | undefined;
  beforeAll(async () => {
    t = await startTestStack();
    peers = await startUploadPeers();
    onReady({ t, peers });
  });
  afterAll(async () => {
    await peers?.close();
    await t?.close();
  });
}

/**
 * Publish these uploads' legacy location claims (no space) the way the seeder does, at the
 * seeder's default location base: for an env seeded with `legacyClaims: false`, so a test picks
 * which uploads the indexer still knows. Shard sizes come from the allocation and store tables.
 */
export async function publishLegacyLocations(env: UploadsEnv, uploads: SeededUpload[]): Promise<void> {
  const config = parseUploadsConfig(env.uploadsConfig, 'test', {});
  const agent = await UcanAgent.create(config);
  const tables = { ddb: env.ctx.clients.ddb, names: config.source.tables };
  const base = `https://${config.source.carpark.bucket}.s3.amazonaws.com/`;
  for (const u of uploads) {
    for (const shard of u.shards) {
      const mh = CID.parse(shard).multihash.bytes;
      const record = await shardRecord(tables, u.space, shard, base58btc.encode(mh));
      if (!record) throw new Error(`shard ${shard} of ${u.root} is in neither table`);
      const keys = carparkKeys(shard);
      await agent.publishLocation(
        mh,
        new URL(record.protocol === 'store' ? keys.carKey : keys.blobKey, base).toString(),
        record.size,
        undefined,
      );
    }
  }
}

/**
 * A state directory for `convoy` processes (workers, the CLI) on this test's stack and tables:
 * stack.json names the env's fresh tables and queues, uploads.json (0600) its peers and keys.
 */
export function writeStateDir(stack: LocalStack, env: UploadsEnv, dir: string): string {
  mkdirSync(dir, { recursive: true });
  const file: StackFile = {
    pid: process.pid,
    startedAtMs: Date.now(),
    state: env.config.state,
    remotes: stack.remotes,
    endpoints: stack.endpoints,
  };
  writeFileSync(path.join(dir, STACK_FILE), JSON.stringify(file));
  writeFileSync(path.join(dir, UPLOADS_CONFIG_FILE), JSON.stringify(env.uploadsConfig), { mode: 0o600 });
  return dir;
}

/**
 * Plan an uploads run and work it to its end with one in-process worker (16 items in flight, the
 * real engine and kind): the run's status at the end and its upload items' rows.
 */
export async function runUploadsToEnd(
  env: UploadsEnv,
  runId: string,
  opts: Parameters<typeof planUploadsRun>[1],
  worker: { threads?: number; timeoutMs?: number } = {},
): Promise<{ status: Awaited<ReturnType<typeof runStatus>>; uploads: ItemRow[] }> {
  await planUploadsRun(env.ctx, { ...opts, run: runId }, { backoffBaseMs: 50 });
  const w = new Worker(env.ctx, {
    concurrency: 16,
    waitSeconds: 0,
    threads: worker.threads ?? 2,
    counterFlushMs: 200,
    heartbeatMs: 500,
    leaseMs: 20_000,
    runs: [runId],
  });
  const done = w.start();
  const status = await waitUntil(
    async () => {
      const s = await runStatus(env.ctx, runId);
      if (process.env.DEBUG_UPLOADS) console.log(runId, s.run.state, JSON.stringify(s.counts));
      return s.run.state === 'done' ? s : undefined;
    },
    { timeoutMs: worker.timeoutMs ?? 120_000, what: `run ${runId} done` },
  );
  await w.stop();
  await done;
  const items: ItemRow[] = [];
  for await (const page of itemsOfRun(env.ctx.items, runId)) items.push(...page);
  return { status, uploads: items.filter((i) => i.itemId.startsWith('upload:')) };
}
