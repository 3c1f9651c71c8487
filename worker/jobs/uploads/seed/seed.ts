/**
 * The uploads data-set generator (`convoy local seed uploads`): customers, spaces and uploads,
 * deterministic from a seed, written the way the legacy system holds them:
 *   - consumer rows (space -> customer), upload rows (space, root, shards), allocation rows
 *     (blob protocol) or store rows (store protocol), and a delegation row per space granting
 *     the migration agent `access/delegate` and `space/content/serve/*`;
 *   - real UnixFS DAGs as CAR shards in the carpark bucket under `{b58mh}/{b58mh}.blob` or
 *     `{cid}/{cid}.car` (CIDv1 1 MiB raw leaves, and legacy CIDv0 dag-pb 256 KiB leaves);
 *   - legacy location claims (without the space) at the indexer, when peers are given, and
 *     for uploads without shards an existing index claim;
 *   - skew: spaces per customer and uploads per space follow a Zipf-like weight, sizes are
 *     log-uniform below 1 MiB except `largeUploads` multi-shard ones;
 *   - at `brokenRate`, broken uploads: a missing shard, a truncated CAR, or a block whose bytes
 *     do not match its CID. The summary lists them, so tests know which must fail and how.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { PutObjectCommand, CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createHash } from 'node:crypto';
import * as Server from '@ucanto/server';
import { ed25519 } from '@ucanto/principal';
import { parse as parseDID } from '@ipld/dag-ucan/did';
import { CID } from 'multiformats/cid';
import { base58btc } from 'multiformats/bases/base58';
import { batchWriteAll } from '../../../../state/batch.js';
import { ensureTable } from '../../../../state/schema.js';
import { buildDagIndex } from '../dag-index.js';
import { indexCarStream } from '../car-stream-index.js';
import { carparkKeys } from '../shard-source.js';
import { sourceTableDefinitions, type TableNames } from '../source-tables.js';
import { encodeProof, type UcanAgent } from '../ucan.js';
import { contentBytes, encodeShards, type DagShape } from './dag.js';

export interface SeedOptions {
  customers: number;
  spaces: number;
  uploads: number;
  seed?: string;
  /** share of uploads that are broken. @defaultValue 0.02 */
  brokenRate?: number;
  /** share of uploads with no shards but an existing index. @defaultValue 0.02 */
  noShardsRate?: number;
  /** multi-shard uploads of `largeBytes`. @defaultValue 0 */
  largeUploads?: number;
  /** @defaultValue 60 MiB */
  largeBytes?: number;
  /** shard size for large uploads. @defaultValue 32 MiB */
  shardSize?: number;
  /** largest "small" upload. @defaultValue 1 MiB */
  maxSmallBytes?: number;
}

export interface SeedTarget {
  ddb: DynamoDBDocumentClient;
  rawDdb: DynamoDBClient;
  s3: S3Client;
  bucket: string;
  tables: TableNames;
  /** the migration agent's DID (delegation rows are made out to it) */
  agentDid: string;
  /** when given, legacy claims are published to the indexer */
  agent?: UcanAgent;
  /** base URL of shard locations in legacy claims */
  publicUrl?: string;
}

export type BrokenKind = 'missing-shard' | 'truncated' | 'bad-block';

export interface SeededUpload {
  customer: string;
  space: string;
  root: string;
  shards: string[];
  bytes: number;
  shape: DagShape;
  protocol: 'blob' | 'store';
  broken?: BrokenKind;
  noShards?: boolean;
}

export interface SeedSummary {
  customers: string[];
  spaces: Array<{ space: string; customer: string; uploads: number }>;
  uploads: SeededUpload[];
  bytes: number;
}

/** mulberry32: a small, fast, seedable PRNG (deterministic data sets). */
export function prng(seed: string): () => number {
  let a = createHash('sha256').update(seed).digest().readUInt32LE(0);
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Split `total` into `parts` (each >= 1 when total >= parts) with Zipf-like weights 1/(i+1). */
export function skewedCounts(total: number, parts: number, random: () => number): number[] {
  const counts = new Array<number>(parts).fill(total >= parts ? 1 : 0);
  let left = total - (total >= parts ? parts : 0);
  const weights = Array.from({ length: parts }, (_, i) => 1 / (i + 1));
  const sum = weights.reduce((a, b) => a + b, 0);
  while (left > 0) {
    let r = random() * sum;
    let i = 0;
    while (r > weights[i]! && i < parts - 1) r -= weights[i++]!;
    counts[i]!++;
    left--;
  }
  return counts;
}

async function batchPut(ddb: DynamoDBDocumentClient, table: string, items: Record<string, unknown>[]): Promise<void> {
  await batchWriteAll(
    ddb,
    table,
    items.map((Item) => ({ PutRequest: { Item } })),
  );
}

async function putObject(s3: S3Client, bucket: string, key: string, body: Uint8Array): Promise<void> {
  if (body.length <= 8 * 1024 * 1024) {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentLength: body.length }));
    return;
  }
  await new Upload({
    client: s3,
    params: { Bucket: bucket, Key: key, Body: Buffer.from(body.buffer, body.byteOffset, body.length) },
    partSize: 8 * 1024 * 1024,
    queueSize: 2,
  }).done();
}

async function* once(bytes: Uint8Array) {
  yield bytes;
}

export async function seedUploads(target: SeedTarget, opts: SeedOptions): Promise<SeedSummary> {
  const seed = opts.seed ?? 'convoy';
  const random = prng(seed);
  const brokenRate = opts.brokenRate ?? 0.02;
  const noShardsRate = opts.noShardsRate ?? 0.02;
  const maxSmall = opts.maxSmallBytes ?? 1024 * 1024;
  for (const def of sourceTableDefinitions(target.tables)) await ensureTable(target.rawDdb, def);
  await target.s3.send(new CreateBucketCommand({ Bucket: target.bucket })).catch((err) => {
    if (!/BucketAlready|already/i.test(String((err as Error).name) + String((err as Error).message))) throw err;
  });
  const publicUrl = target.publicUrl ?? `https://${target.bucket}.s3.amazonaws.com/`;
  const agent = parseDID(target.agentDid);

  const customers = Array.from({ length: opts.customers }, (_, i) => `did:mailto:example.com:customer-${seed}-${i}`);
  const spacesPerCustomer = skewedCounts(opts.spaces, opts.customers, random);
  const spaces: SeedSummary['spaces'] = [];
  const consumerRows: Record<string, unknown>[] = [];
  const delegationRows: Record<string, unknown>[] = [];
  let spaceIndex = 0;
  for (const [ci, n] of spacesPerCustomer.entries()) {
    for (let k = 0; k < n; k++) {
      const signer = await ed25519.derive(createHash('sha256').update(`space:${seed}:${spaceIndex++}`).digest());
      const space = signer.did();
      spaces.push({ space, customer: customers[ci]!, uploads: 0 });
      consumerRows.push({ consumer: space, customer: customers[ci], provider: 'did:web:test.up.storacha.network' });
      const grant = await Server.delegate({
        issuer: signer,
        audience: agent,
        capabilities: [
          { with: space, can: 'access/delegate' },
          { with: space, can: 'space/content/serve/*' },
        ],
        expiration: Infinity,
      } as never);
      delegationRows.push({ space, delegation: await encodeProof(grant as never) });
    }
  }
  await batchPut(target.ddb, target.tables.consumer, consumerRows);
  await batchPut(target.ddb, target.tables.delegation, delegationRows);

  const uploadsPerSpace = skewedCounts(opts.uploads, spaces.length, random);
  const largeAt = new Set<number>();
  for (let i = 0; i < (opts.largeUploads ?? 0); i++) largeAt.add(Math.floor(random() * opts.uploads));
  const summary: SeedSummary = { customers, spaces, uploads: [], bytes: 0 };
  let u = 0;
  for (const [si, count] of uploadsPerSpace.entries()) {
    const { space, customer } = spaces[si]!;
    spaces[si]!.uploads = count;
    const rows: {
      upload: Record<string, unknown>[];
      allocation: Record<string, unknown>[];
      store: Record<string, unknown>[];
    } = { upload: [], allocation: [], store: [] };
    for (let k = 0; k < count; k++, u++) {
      const shape: DagShape = random() < 0.7 ? 'v1-raw' : 'v0-pb';
      const protocol: 'blob' | 'store' = random() < 0.6 ? 'blob' : 'store';
      const large = largeAt.has(u);
      const bytes = large
        ? (opts.largeBytes ?? 60 * 1024 * 1024)
        : Math.floor(Math.exp(Math.log(1024) + random() * (Math.log(maxSmall) - Math.log(1024))));
      const r = random();
      const broken: BrokenKind | undefined =
        r < brokenRate ? (['missing-shard', 'truncated', 'bad-block'] as const)[Math.floor(random() * 3)] : undefined;
      const noShards = !broken && r >= brokenRate && r < brokenRate + noShardsRate;
      const content = contentBytes(`${seed}:${u}`, bytes);
      const shards: Array<{ cid: string; size: number; bytes?: Uint8Array }> = [];
      const shardSize = large ? (opts.shardSize ?? 32 * 1024 * 1024) : 127 * 1024 * 1024;
      const seededShards: Array<{ cid: string; size: number; index?: Awaited<ReturnType<typeof indexCarStream>> }> = [];
      const root = await encodeShards(content, shape, shardSize, async (shard) => {
        let body = shard.bytes;
        if (broken === 'truncated' && shards.length === 0)
          body = body.subarray(0, Math.max(10, body.length - Math.ceil(body.length / 3)));
        if (broken === 'bad-block' && shards.length === 0) {
          body = Uint8Array.from(body);
          body[body.length - 5]! ^= 0xff; // inside the last block's data
        }
        const keys = carparkKeys(shard.cid);
        const skip = broken === 'missing-shard' && shards.length === 0;
        if (!skip && !noShards)
          await putObject(target.s3, target.bucket, protocol === 'blob' ? keys.blobKey : keys.carKey, body);
        shards.push({ cid: shard.cid, size: shard.size });
        seededShards.push({
          cid: shard.cid,
          size: shard.size,
          index: noShards && target.agent ? await indexCarStream(once(shard.bytes)) : undefined,
        });
        summary.bytes += shard.size;
      });
      const seeded: SeededUpload = {
        customer,
        space,
        root,
        shards: noShards ? [] : shards.map((s) => s.cid),
        bytes,
        shape,
        protocol,
        broken,
        noShards: noShards || undefined,
      };
      summary.uploads.push(seeded);
      rows.upload.push({
        space,
        root,
        insertedAt: new Date(Date.UTC(2023, 0, 1) + u * 60_000).toISOString(),
        ...(noShards ? {} : { shards: new Set(shards.map((s) => s.cid)) }),
      });
      if (!noShards) {
        for (const s of shards) {
          const mh = CID.parse(s.cid).multihash.bytes;
          if (protocol === 'blob') rows.allocation.push({ space, multihash: base58btc.encode(mh), size: s.size });
          else rows.store.push({ space, link: s.cid, size: s.size });
          if (target.agent) {
            const keys = carparkKeys(s.cid);
            await target.agent.publishLocation(
              mh,
              new URL(protocol === 'blob' ? keys.blobKey : keys.carKey, publicUrl).toString(),
              s.size,
              undefined,
            );
          }
        }
      } else if (target.agent) {
        // an upload whose index already exists (registered by the client long ago)
        const index = await buildDagIndex(
          root,
          seededShards.map((s) => s.index!),
        );
        await target.agent.registerIndex(root, index.link, undefined as never);
      }
    }
    await batchPut(target.ddb, target.tables.upload, rows.upload);
    await batchPut(target.ddb, target.tables.allocation, rows.allocation);
    await batchPut(target.ddb, target.tables.store, rows.store);
  }
  return summary;
}
