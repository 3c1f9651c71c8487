/**
 * Where a shard's bytes come from (a local CAR file, or the carpark bucket under one of its two
 * key shapes) and how to index it: the code shared by the piscina task (workers) and
 * `convoy index build` (operators), so both build the same index from the same bytes.
 */
import { createReadStream } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { base58btc } from 'multiformats/bases/base58';
import { CID } from 'multiformats/cid';
import { retryTransient } from '../../../shared/backoff.js';
import { sharedS3Requests } from '../../../shared/s3-requests.js';
import type { RemoteConfig } from '../../../shared/config.js';
import { classifyError, ConvoyError, NotFoundError, toError, type ErrorClass } from '../../../shared/errors.js';
import { indexCarStream, type ShardIndex } from './car-stream-index.js';

export type ShardSource =
  | { type: 'file'; path: string }
  /** keys are tried in order (a shard stored by the store protocol or by the blob protocol) */
  | { type: 's3'; remote: RemoteConfig; bucket: string; keys: string[] };

/** The two key shapes of the carpark bucket for one shard CID (a CAR CID, codec 0x0202). */
export function carparkKeys(shardCid: string): { carKey: string; blobKey: string } {
  const cid = CID.parse(shardCid);
  const b58 = base58btc.encode(cid.multihash.bytes);
  return { carKey: `${shardCid}/${shardCid}.car`, blobKey: `${b58}/${b58}.blob` };
}

/** A missing key, as S3 says it (also inside the ConvoyError a retry wraps it in). */
function isNoSuchKey(err: unknown): boolean {
  const e = (err instanceof ConvoyError ? err.cause : err) as {
    name?: string;
    $metadata?: { httpStatusCode?: number };
  };
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || e?.$metadata?.httpStatusCode === 404;
}

async function openS3(
  source: Extract<ShardSource, { type: 's3' }>,
  signal?: AbortSignal,
): Promise<{ body: IncomingMessage; key: string }> {
  // signed node:http requests, not the SDK: ~3 ms less of a worker's CPU per upload (s3-requests.ts);
  // tried again on throttling and transient faults as the SDK's retries did
  const s3 = sharedS3Requests(source.remote, { maxSockets: 32 });
  for (const key of source.keys) {
    try {
      const body = await retryTransient(() => s3.getStream(source.bucket, key, { signal }), {
        signal,
        final: isNoSuchKey, // the next key shape, at once
      });
      return { body, key };
    } catch (err) {
      if (isNoSuchKey(err)) continue;
      throw classifyError(err);
    }
  }
  throw new NotFoundError(
    'SHARD_NOT_FOUND',
    `shard not found in bucket ${source.bucket} under ${source.keys.join(' or ')}`,
    {
      context: { bucket: source.bucket, keys: source.keys },
    },
  );
}

/** Stream one shard through the indexer (verifying every block). */
export async function indexShard(
  source: ShardSource,
  opts: { verifyBlocks?: boolean; signal?: AbortSignal; label?: string } = {},
): Promise<ShardIndex & { key?: string }> {
  if (source.type === 'file') {
    const stream = createReadStream(source.path, { highWaterMark: 1 << 20 });
    try {
      return await indexCarStream(stream, { ...opts, label: opts.label ?? source.path });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT')
        throw new NotFoundError('SHARD_NOT_FOUND', `shard file ${source.path} does not exist`);
      throw err;
    } finally {
      stream.destroy();
    }
  }
  const { body, key } = await openS3(source, opts.signal);
  try {
    const index = await indexCarStream(body, { ...opts, label: opts.label ?? key });
    return { ...index, key };
  } catch (err) {
    if (err instanceof ConvoyError) throw err;
    throw classifyError(err);
  } finally {
    body.destroy();
  }
}

/**
 * Shards up to this size are indexed on the calling thread: handing one to a piscina thread costs
 * more CPU than indexing it (bench:uploads, single-shard uploads < 1 MiB: the worker 20.5-22.5 ms
 * per upload through the threads, 16.1-19.4 ms indexed on the event loop, alternated twice; the
 * wake-up of a sleeping thread alone, Atomics.notify, measured 0.37-0.7 ms per task on this 2-vCPU
 * VM). An 8 MiB shard is ~30 ms of hashing, done a socket chunk at a time, so the event loop
 * stays responsive; larger ones go to the threads, where they use the cores a host's processes
 * leave idle (`--processes` below the cores).
 */
export const INDEX_HERE_MAX_BYTES = 8 * 1024 * 1024;

/**
 * Index an S3 shard on this thread if it is at most `maxBytes` (its GET's Content-Length), else
 * say which key holds it and how large it is, the answer dropped unread: the caller hands it to a
 * thread, whose own GET costs one more request per large shard, against a HEAD before every small
 * one.
 */
export async function indexShardHere(
  source: Extract<ShardSource, { type: 's3' }>,
  opts: { maxBytes: number; verifyBlocks?: boolean; signal?: AbortSignal; label?: string },
): Promise<{ index: ShardIndex & { key: string } } | { larger: { key: string; bytes: number } }> {
  const { body, key } = await openS3(source, opts.signal);
  try {
    const bytes = Number(body.headers['content-length']);
    if (bytes > opts.maxBytes) return { larger: { key, bytes } };
    const index = await indexCarStream(body, { ...opts, label: opts.label ?? key });
    return { index: { ...index, key } };
  } catch (err) {
    if (err instanceof ConvoyError) throw err;
    throw classifyError(err);
  } finally {
    body.destroy();
  }
}

/** A result that crosses the thread boundary intact (an Error loses its class in a structured clone). */
export type ShardIndexResult =
  | { ok: ShardIndex & { key?: string } }
  | { error: { errorClass: ErrorClass; message: string; retryable: boolean } };

export async function indexShardResult(
  source: ShardSource,
  opts: { verifyBlocks?: boolean; label?: string } = {},
): Promise<ShardIndexResult> {
  try {
    return { ok: await indexShard(source, opts) };
  } catch (err) {
    const e = err instanceof ConvoyError ? err : classifyError(err);
    return { error: { errorClass: e.errorClass, message: toError(e).message, retryable: e.retryable } };
  }
}

export function resultToIndex(result: ShardIndexResult): ShardIndex & { key?: string } {
  if ('ok' in result) return result.ok;
  throw new ConvoyError(result.error.errorClass, result.error.message, { retryable: result.error.retryable });
}
