/**
 * Index one CAR shard while it streams past, never holding the whole shard.
 *
 * `@ipld/car`'s CarIndexer parses the stream and yields every block's position (the offset and
 * length of the block DATA, after its varint and CID: exactly a sharded-DAG-index slice). It
 * skips block data lazily (a seek), so the bytes of a block may arrive before or after the
 * indexer reports the block. We tap the same stream to
 *   - hash the whole shard (its sha2-256 multihash is the shard's identity), and
 *   - hash every block's bytes incrementally and compare with the block's CID (a shard whose
 *     bytes do not match its CIDs would make a lying index).
 * Only the chunks that may still belong to a block we have not finished are retained: memory is
 * about one block plus one chunk, whatever the shard size.
 *
 * Failures: a parse error, a block whose bytes do not match its CID, or a block that runs past
 * the end of the stream (a truncated CAR, which CarIndexer alone does not notice for the last
 * block) is SHARD_CORRUPT, permanent. An error thrown by the source itself (the S3 stream) is
 * rethrown untouched so the caller classifies it (network -> retryable).
 */
import { createHash, type Hash } from 'node:crypto';
import { CarIndexer } from '@ipld/car/indexer';
import { ConvoyError } from '../../../shared/errors.js';

export const SHA2_256 = 0x12;
const SHA2_512 = 0x13;
const IDENTITY = 0x00;

/** One shard's index: positions only (a few dozen bytes per block). */
export interface ShardIndex {
  /** sha2-256 multihash bytes of the whole shard */
  shardMultihash: Uint8Array;
  /** bytes in the shard */
  size: number;
  /** root CIDs in the CAR header (strings; the last shard of an upload carries the DAG root) */
  roots: string[];
  /** [block multihash bytes, data offset, data length] for every block, in stream order */
  slices: Array<[Uint8Array, number, number]>;
}

export interface IndexCarOptions {
  /** verify each block's bytes against its CID. @defaultValue true */
  verifyBlocks?: boolean;
  signal?: AbortSignal;
  /** a label for error messages (the shard CID or key) */
  label?: string;
}

export function shardCorrupt(label: string, why: string, cause?: unknown): ConvoyError {
  return new ConvoyError('SHARD_CORRUPT', `shard ${label} is corrupt: ${why}`, {
    retryable: false,
    cause,
    context: { shard: label },
  });
}

interface PendingBlock {
  start: number;
  end: number;
  fed: number;
  hash: Hash | undefined;
  expected: Uint8Array;
  code: number;
  cid: string;
  identity?: Uint8Array[];
}

/** Multihash bytes: varint code, varint length, digest (codes here are < 128: one byte each). */
export function sha256Multihash(digest: Uint8Array): Uint8Array {
  const out = new Uint8Array(2 + digest.length);
  out[0] = SHA2_256;
  out[1] = digest.length;
  out.set(digest, 2);
  return out;
}

function hasherFor(code: number): Hash | undefined {
  if (code === SHA2_256) return createHash('sha256');
  if (code === SHA2_512) return createHash('sha512');
  return undefined;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export async function indexCarStream(
  source: AsyncIterable<Uint8Array>,
  opts: IndexCarOptions = {},
): Promise<ShardIndex> {
  const label = opts.label ?? '(stream)';
  const verify = opts.verifyBlocks ?? true;
  const whole = createHash('sha256');
  let received = 0;
  let sourceError: unknown;
  /** chunks not yet known to lie entirely before the end of the last reported block */
  let retained: Array<{ start: number; bytes: Uint8Array }> = [];
  let knownEnd = 0;
  const pending: PendingBlock[] = [];

  const feed = (block: PendingBlock, chunkStart: number, bytes: Uint8Array) => {
    const from = Math.max(block.start + block.fed, chunkStart);
    const to = Math.min(block.end, chunkStart + bytes.length);
    if (to <= from) return;
    const part = bytes.subarray(from - chunkStart, to - chunkStart);
    if (block.hash) block.hash.update(part);
    else block.identity?.push(part.slice());
    block.fed += to - from;
  };
  const finish = (block: PendingBlock) => {
    let actual: Uint8Array;
    if (block.hash) actual = block.hash.digest();
    else actual = Buffer.concat(block.identity ?? []);
    if (!equalBytes(actual, block.expected))
      throw shardCorrupt(label, `block ${block.cid} at offset ${block.start}: bytes do not match its CID`);
  };
  const settle = () => {
    for (let i = pending.length - 1; i >= 0; i--) {
      const b = pending[i]!;
      if (b.fed === b.end - b.start) {
        finish(b);
        pending.splice(i, 1);
      }
    }
  };

  async function* tap(): AsyncGenerator<Uint8Array> {
    try {
      for await (const raw of source) {
        if (opts.signal?.aborted) throw opts.signal.reason ?? new Error('aborted');
        const chunk = raw instanceof Uint8Array ? raw : new Uint8Array(raw as ArrayBuffer);
        const start = received;
        received += chunk.length;
        whole.update(chunk);
        if (verify) {
          for (const b of pending) feed(b, start, chunk);
          retained.push({ start, bytes: chunk });
        }
        yield chunk;
      }
    } catch (err) {
      sourceError = err;
      throw err;
    }
  }

  const slices: ShardIndex['slices'] = [];
  let roots: string[] = [];
  try {
    const indexer = await CarIndexer.fromIterable(tap());
    roots = (await indexer.getRoots()).map((r) => r.toString());
    for await (const entry of indexer) {
      const mh = entry.cid.multihash;
      slices.push([mh.bytes.slice(), entry.blockOffset, entry.blockLength]);
      if (!verify) continue;
      const code = mh.code;
      const block: PendingBlock = {
        start: entry.blockOffset,
        end: entry.blockOffset + entry.blockLength,
        fed: 0,
        hash: hasherFor(code),
        expected: mh.digest,
        code,
        cid: entry.cid.toString(),
      };
      if (!block.hash) {
        if (code !== IDENTITY) {
          throw new ConvoyError(
            'INDEX_GENERATION_FAILED',
            `shard ${label}: block ${block.cid} uses hash 0x${code.toString(16)}, which cannot be verified`,
            { retryable: false },
          );
        }
        block.identity = [];
      }
      for (const c of retained) feed(block, c.start, c.bytes);
      pending.push(block);
      knownEnd = Math.max(knownEnd, block.end);
      settle();
      // Chunks that end before the last reported block's end can hold no future block's bytes.
      if (retained.length > 1)
        retained = retained.filter(
          (c) => c.start + c.bytes.length > knownEnd || pending.some((b) => c.start + c.bytes.length > b.start + b.fed),
        );
    }
  } catch (err) {
    if (sourceError !== undefined && err === sourceError) throw err;
    if (err instanceof ConvoyError) throw err;
    throw shardCorrupt(label, (err as Error)?.message ?? String(err), err);
  }
  if (verify) {
    settle();
    if (pending.length) {
      const b = pending[0]!;
      throw shardCorrupt(
        label,
        `truncated: block ${b.cid} needs bytes up to ${b.end} but the shard ends at ${received}`,
      );
    }
  }
  const last = slices.at(-1);
  if (last && last[1] + last[2] > received) {
    throw shardCorrupt(
      label,
      `truncated: the last block runs to ${last[1] + last[2]} but the shard ends at ${received}`,
    );
  }
  return { shardMultihash: sha256Multihash(whole.digest()), size: received, roots, slices };
}
