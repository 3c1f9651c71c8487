/**
 * Byte identity: the index our workers build (streaming each shard through the CAR indexer in a
 * piscina thread) equals, byte for byte, the index @storacha/upload-client builds and stores when
 * it uploads the same data to the real @storacha/upload-api (in-process). CIDv1 raw-leaf and
 * CIDv0 dag-pb DAGs, single- and multi-shard.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alice, registerSpace } from '@storacha/upload-api/test';
import { uploadFile } from '@storacha/upload-client';
import { connect } from '@ucanto/client';
import * as CAR from '@ucanto/transport/car';
import * as HTTP from '@ucanto/transport/http';
import { startUploadService, type UploadServicePeer } from '../../worker/jobs/uploads/local-peers/upload-service.js';
import { sha256 } from 'multiformats/hashes/sha2';
import * as Link from 'multiformats/link';
import { contentBytes, dagSettings, type DagShape } from '../../worker/jobs/uploads/seed/dag.js';
import { buildDagIndex, describeIndex } from '../../worker/jobs/uploads/dag-index.js';
import { indexShard, resultToIndex, type ShardIndexResult } from '../../worker/jobs/uploads/shard-source.js';
import { createThreadPool, type ThreadPool } from '../../worker/thread-pool.js';
import { CAR_INDEX_TASK } from '../../worker/jobs/uploads/car-index-task.js';

let peer: UploadServicePeer;
let dir: string;
let pool: ThreadPool;

beforeAll(async () => {
  peer = await startUploadService();
  dir = mkdtempSync(path.join(tmpdir(), 'convoy-identity-'));
  pool = createThreadPool(2);
});
afterAll(async () => {
  await pool?.close();
  await peer?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Upload `bytes` with the real client; return the shards' and the index's bytes it PUT. */
async function clientUpload(bytes: Uint8Array, shape: DagShape, shardSize: number) {
  const { proof, spaceDid } = await registerSpace(alice, peer.context as never);
  // over HTTP, as a real client talks to the service (receipts are polled at /receipt/)
  const connection = connect({
    id: peer.signer as never,
    codec: CAR.outbound,
    channel: HTTP.open({ url: new URL(peer.url), method: 'POST' }) as never,
  });
  const put = new Map<string, Uint8Array>();
  const recordingFetch = async (url: string | URL, init?: RequestInit) => {
    if (init?.method === 'PUT' && init.body) {
      const body = new Uint8Array(init.body as ArrayBuffer);
      put.set(Link.create(0x0202, await sha256.digest(body)).toString(), body.slice());
    }
    return fetch(url, init);
  };
  const shardCids: string[] = [];
  const root = await uploadFile(
    { issuer: alice, with: spaceDid, proofs: [proof], audience: peer.signer } as never,
    new Blob([bytes as Uint8Array<ArrayBuffer>]),
    {
      connection,
      fetch: recordingFetch,
      shardSize,
      pieceHasher: null,
      settings: dagSettings(shape),
      onShardStored: (meta: { cid: { toString(): string } }) => shardCids.push(meta.cid.toString()),
    } as never,
  );
  const shards = shardCids.map((cid) => {
    const b = put.get(cid);
    if (!b) throw new Error(`shard ${cid} was not captured`);
    return { cid, bytes: b };
  });
  const indexes = [...put.entries()].filter(([cid]) => !shardCids.includes(cid));
  expect(indexes).toHaveLength(1);
  return { root: root.toString(), shards, index: indexes[0]![1], indexCid: indexes[0]![0] };
}

const cases: Array<{ name: string; shape: DagShape; size: number; shardSize: number; shards: number }> = [
  {
    name: 'CIDv1 raw leaves, one shard',
    shape: 'v1-raw',
    size: 2.5 * 1024 * 1024,
    shardSize: 8 * 1024 * 1024,
    shards: 1,
  },
  {
    name: 'CIDv1 raw leaves, several shards',
    shape: 'v1-raw',
    size: 5.2 * 1024 * 1024,
    shardSize: 2 * 1024 * 1024,
    shards: 3,
  },
  {
    name: 'CIDv0 dag-pb leaves, one shard',
    shape: 'v0-pb',
    size: 1.3 * 1024 * 1024,
    shardSize: 8 * 1024 * 1024,
    shards: 1,
  },
  {
    name: 'CIDv0 dag-pb leaves, several shards',
    shape: 'v0-pb',
    size: 3.1 * 1024 * 1024,
    shardSize: 1024 * 1024,
    shards: 4,
  },
];

describe('index byte identity with @storacha/upload-client', () => {
  for (const c of cases) {
    it(c.name, async () => {
      const bytes = contentBytes(c.name, Math.floor(c.size));
      const uploaded = await clientUpload(bytes, c.shape, c.shardSize);
      expect(uploaded.shards.length).toBeGreaterThanOrEqual(c.shards);
      if (c.shape === 'v0-pb') expect(uploaded.root.startsWith('Qm')).toBe(true);
      else expect(uploaded.root.startsWith('bafy')).toBe(true);
      const files = uploaded.shards.map((s, i) => {
        const file = path.join(dir, `${c.shape}-${i}.car`);
        writeFileSync(file, s.bytes);
        return file;
      });
      // through the thread pool, as workers do (the compiled task in dist/)
      const indexed = await Promise.all(
        files.map(async (file) =>
          resultToIndex(await pool.run<ShardIndexResult>(CAR_INDEX_TASK, { source: { type: 'file', path: file } })),
        ),
      );
      const ours = await buildDagIndex(uploaded.root, indexed);
      expect(ours.link).toBe(uploaded.indexCid);
      expect(Buffer.from(ours.bytes).equals(Buffer.from(uploaded.index))).toBe(true);
      const described = await describeIndex(ours.bytes);
      expect(described.content).toBe(uploaded.root);
      expect(described.shards.map((s) => s.shard).sort()).toEqual(uploaded.shards.map((s) => s.cid).sort());
      // inline (the CLI's path) gives the same
      const inline = await buildDagIndex(
        uploaded.root,
        await Promise.all(files.map((f) => indexShard({ type: 'file', path: f }))),
      );
      expect(Buffer.from(inline.bytes).equals(Buffer.from(ours.bytes))).toBe(true);
    });
  }
});
