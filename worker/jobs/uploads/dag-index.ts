/**
 * The sharded DAG index ("index/sharded/dag@0.1", @storacha/blob-index) of an upload, built
 * from its shards' positions exactly as @storacha/upload-client builds it: every block of every
 * shard as a slice, plus the shard itself as the slice [0, carSize] (blob-index's own
 * `fromShardArchives` leaves that out, and the bytes would then differ from the client's).
 * `archive()` sorts shards and slices by digest bytes, so the output is deterministic and can be
 * compared byte for byte.
 */
import { ShardedDAGIndex } from '@storacha/blob-index';
import { CID } from 'multiformats/cid';
import * as Digest from 'multiformats/hashes/digest';
import { sha256 } from 'multiformats/hashes/sha2';
import * as Link from 'multiformats/link';
import { ConvoyError, InputError } from '../../../shared/errors.js';
import type { ShardIndex } from './car-stream-index.js';

/** multicodec of a CAR file: shard and index blobs are CIDs with this codec */
export const CAR_CODEC = 0x0202;

export interface BuiltIndex {
  /** the index CAR */
  bytes: Uint8Array;
  /** sha2-256 multihash of `bytes` */
  multihash: Uint8Array;
  /** CID(car, multihash) of the index blob */
  link: string;
  shards: number;
  slices: number;
}

export function parseRoot(root: string, what = '--root'): CID {
  try {
    return CID.parse(root);
  } catch (err) {
    throw new InputError(
      `${what} "${root}" is not a CID (${(err as Error).message}); give the upload's root CID, e.g. bafy... or Qm...`,
    );
  }
}

/** The CAR CID (codec 0x0202) of a shard from its multihash bytes. */
export function shardLink(multihash: Uint8Array): string {
  return Link.create(CAR_CODEC, Digest.decode(multihash)).toString();
}

export async function buildDagIndex(root: string, shards: Iterable<ShardIndex>): Promise<BuiltIndex> {
  const index = ShardedDAGIndex.create(parseRoot(root, 'root'));
  let shardCount = 0;
  let sliceCount = 0;
  for (const shard of shards) {
    const shardDigest = Digest.decode(shard.shardMultihash);
    for (const [mh, offset, length] of shard.slices) {
      index.setSlice(shardDigest, Digest.decode(mh), [offset, length]);
      sliceCount++;
    }
    index.setSlice(shardDigest, shardDigest, [0, shard.size]);
    shardCount++;
    sliceCount++;
  }
  const archived = await index.archive();
  if (!archived.ok)
    throw new ConvoyError('INDEX_GENERATION_FAILED', `cannot archive the index of ${root}: ${archived.error.message}`, {
      retryable: false,
    });
  const bytes = archived.ok;
  const digest = await sha256.digest(bytes);
  return {
    bytes,
    multihash: digest.bytes,
    link: Link.create(CAR_CODEC, digest).toString(),
    shards: shardCount,
    slices: sliceCount,
  };
}

export interface IndexDescription {
  content: string;
  link: string;
  size: number;
  shards: Array<{ shard: string; slices: number; size: number | undefined }>;
  slices: number;
}

/** Decode an index CAR (for `convoy index inspect` and for reading a published index). */
export async function describeIndex(bytes: Uint8Array): Promise<IndexDescription> {
  const extracted = ShardedDAGIndex.extract(bytes);
  if (!extracted.ok) throw new InputError(`not a sharded DAG index: ${extracted.error.message}`);
  const idx = extracted.ok;
  const digest = await sha256.digest(bytes);
  const shards: IndexDescription['shards'] = [];
  let total = 0;
  for (const [shardDigest, slices] of idx.shards.entries()) {
    const self = slices.get(shardDigest);
    shards.push({
      shard: Link.create(CAR_CODEC, shardDigest).toString(),
      slices: slices.size,
      size: self ? self[1] : undefined,
    });
    total += slices.size;
  }
  return {
    content: idx.content.toString(),
    link: Link.create(CAR_CODEC, digest).toString(),
    size: bytes.length,
    shards,
    slices: total,
  };
}
