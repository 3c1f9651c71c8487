/**
 * Fixtures for the uploads tests: a local stack, the UCAN peers, a seeded data set on fresh
 * tables and a fresh bucket, and a context whose uploads config points at all of it.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { startUploadPeers, type UploadPeers } from '../../infra/local/ucan-peers/index.js';
import { seedUploads, type SeedOptions, type SeedSummary } from '../../infra/local/seed-uploads/seed.js';
import { makeS3Client } from '../../shared/clients.js';
import { getRemote } from '../../shared/config.js';
import { parseUploadsConfig, setUploadsConfig, UPLOADS_CONFIG_FILE, type UploadsConfigInput } from '../../worker/jobs/uploads/config.js';
import { STACK_FILE, type StackFile } from '../../shared/config.js';
import { UcanAgent } from '../../worker/jobs/uploads/ucan.js';
import { freshEnv, type TestEnv } from '../helpers/stack.js';
import type { LocalStack } from '../../infra/local/stack.js';

export interface UploadsEnv extends TestEnv {
  peers: UploadPeers;
  config: TestEnv['config'];
  uploadsConfig: UploadsConfigInput;
  seeded: SeedSummary;
}

export async function uploadsEnv(stack: LocalStack, peers: UploadPeers, seed: SeedOptions, opts: { registration?: 'assert/index' | 'space/index/add' } = {}): Promise<UploadsEnv> {
  const env = await freshEnv(stack);
  const suffix = randomBytes(3).toString('hex');
  const tables = { consumer: `consumer-${suffix}`, upload: `upload-${suffix}`, allocation: `allocation-${suffix}`, store: `store-${suffix}`, delegation: `delegation-${suffix}` };
  const uploadsConfig: UploadsConfigInput = {
    ...peers.config,
    source: { tables, carpark: { remote: 'local', bucket: `carpark-${suffix}` } },
    registration: opts.registration ?? 'assert/index',
  };
  const parsed = parseUploadsConfig(uploadsConfig, 'test', {});
  setUploadsConfig(uploadsConfig);
  const remote = getRemote(env.config, 'local');
  const s3 = makeS3Client(remote);
  const rawDdb = new DynamoDBClient({ region: 'us-east-1', endpoint: stack.endpoints.dynamodb, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  try {
    const seeded = await seedUploads(
      { ddb: env.ctx.clients.ddb, rawDdb, s3, bucket: parsed.source.carpark.bucket, tables: parsed.source.tables, agentDid: peers.agentDid, agent: await UcanAgent.create(parsed) },
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
 * A state directory for `convoy` processes (workers, the CLI) on this test's stack and tables:
 * stack.json names the env's fresh tables and queues, uploads.json (0600) its peers and keys.
 */
export function writeStateDir(stack: LocalStack, env: UploadsEnv, dir: string): string {
  mkdirSync(dir, { recursive: true });
  const file: StackFile = { pid: process.pid, startedAtMs: Date.now(), state: env.config.state, remotes: stack.remotes, endpoints: stack.endpoints };
  writeFileSync(path.join(dir, STACK_FILE), JSON.stringify(file));
  writeFileSync(path.join(dir, UPLOADS_CONFIG_FILE), JSON.stringify(env.uploadsConfig), { mode: 0o600 });
  return dir;
}
