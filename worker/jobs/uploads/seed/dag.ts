/**
 * Real UnixFS DAGs cut into real CAR shards, made with @storacha/upload-client's own encoder and
 * sharding stream (so the seeded data is exactly what the client uploads), in the two shapes
 * legacy data has: CIDv1 with 1 MiB raw leaves (today's client) and CIDv0 dag-pb with 256 KiB
 * leaves (old uploads). Content bytes come from AES-CTR keyed by the seed: deterministic, fast.
 */
import { createCipheriv, createHash } from 'node:crypto';
import * as UnixFS from '@ipld/unixfs';
import { withMaxChunkSize } from '@ipld/unixfs/file/chunker/fixed';
import { withWidth } from '@ipld/unixfs/file/layout/balanced';
import { ShardingStream, UnixFS as ClientUnixFS } from '@storacha/upload-client';
import { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import { sha256 } from 'multiformats/hashes/sha2';
import * as Link from 'multiformats/link';

export type DagShape = 'v1-raw' | 'v0-pb';

/** Encoder settings for @storacha/upload-client's UnixFS encoder. */
export function dagSettings(shape: DagShape): UnixFS.EncoderSettings {
  if (shape === 'v1-raw') {
    // the client's defaults
    return UnixFS.configure({
      fileChunkEncoder: raw,
      smallFileEncoder: raw,
      chunker: withMaxChunkSize(1024 * 1024),
      fileLayout: withWidth(1024),
    });
  }
  return UnixFS.configure({
    chunker: withMaxChunkSize(256 * 1024),
    fileLayout: withWidth(174),
    linker: {
      createLink: ((_code: number, digest: Parameters<typeof CID.createV0>[0]) => CID.createV0(digest)) as never,
    },
  });
}

/** `size` deterministic pseudo-random bytes for `seed` (AES-256-CTR keystream). */
export function contentBytes(seed: string, size: number): Uint8Array {
  const key = createHash('sha256').update(`convoy-seed:${seed}`).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  return new Uint8Array(cipher.update(Buffer.alloc(size)));
}

export interface EncodedShard {
  bytes: Uint8Array;
  /** CAR CID of the shard (codec 0x0202, sha2-256 of the bytes) */
  cid: string;
  size: number;
}

/**
 * Encode `content` as a UnixFS file and cut it into CAR shards of at most `shardSize` bytes,
 * one shard at a time (the caller writes each away before the next is made). Returns the root.
 */
export async function encodeShards(
  content: Uint8Array,
  shape: DagShape,
  shardSize: number,
  onShard: (shard: EncodedShard) => Promise<void>,
): Promise<string> {
  const blob = new Blob([content as Uint8Array<ArrayBuffer>]);
  let root: string | undefined;
  await ClientUnixFS.createFileEncoderStream(blob, { settings: dagSettings(shape) } as never)
    .pipeThrough(new ShardingStream({ shardSize }))
    .pipeTo(
      new WritableStream({
        async write(car) {
          const bytes = new Uint8Array(await car.arrayBuffer());
          const digest = await sha256.digest(bytes);
          if (car.roots[0]) root = car.roots[0].toString();
          await onShard({ bytes, cid: Link.create(0x0202, digest).toString(), size: bytes.length });
        },
      }),
    );
  if (!root) throw new Error('encoder produced no root');
  return root;
}
