/**
 * Comparing what a run synced, key by key, for verify and --dry-run: one streaming merge-join per
 * synced prefix (flat memory), with the same filters and the same decision the workers use.
 */
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import type { ConvoyConfig } from '../../../shared/config.js';
import { decide, decideByChecksums, decideWithMetadata, type ListedObject } from './decide.js';
import { copyTargetFor } from './endpoints.js';
import { buildKeyFilter } from './filters.js';
import { listObjects, mergeJoin } from './listing.js';
import { destKeyFor, type S3SyncSpec } from './spec.js';

export type Verdict =
  | 'ok'
  | 'missing'
  | 'size_differs'
  | 'checksum_differs'
  | 'extra'
  /** same bytes, but not the properties the run carries (verify-properties.ts) */
  | 'storage_class_differs'
  | 'tags_differ';

export interface ComparedEntry {
  pair: number;
  srcKey?: string;
  dstKey?: string;
  src?: ListedObject;
  dst?: ListedObject;
  verdict: Verdict;
  /** tags_differ: each side's tags, URL-encoded */
  srcTags?: string;
  dstTags?: string;
}

async function* tolerateMissingBucket(it: AsyncIterable<ListedObject>): AsyncGenerator<ListedObject> {
  try {
    yield* it;
  } catch (err) {
    if ((err as Error).name !== 'NoSuchBucket') throw err;
  }
}

export async function* compareRun(config: ConvoyConfig, spec: S3SyncSpec): AsyncGenerator<ComparedEntry> {
  const filter = buildKeyFilter(spec);
  for (const [i, pair] of spec.pairs.entries()) {
    const t = copyTargetFor(config, pair);
    for (const prefix of spec.resolvedPrefixes?.[i] ?? [pair.from.prefix]) {
      const src = listObjects(t.src, { bucket: pair.from.bucket, prefix });
      const dst = tolerateMissingBucket(
        listObjects(t.dst, { bucket: pair.to.bucket, prefix: destKeyFor(pair, prefix) }),
      );
      for await (const e of mergeJoin(src, pair.from.prefix, dst, pair.to.prefix)) {
        if (!filter(e.rel)) continue;
        const srcKey = e.src?.key;
        const dstKey = e.dst?.key ?? (e.src ? destKeyFor(pair, e.src.key) : undefined);
        if (!e.src) {
          yield { pair: i, dstKey, dst: e.dst, verdict: 'extra' };
          continue;
        }
        let d = decide(e.src, e.dst, { sizeOnly: spec.sizeOnly, destEtagsOpaque: spec.sse === 'aws:kms' });
        if (d.action === 'head') {
          const [sh, dh] = await Promise.all([
            t.src
              .send(new HeadObjectCommand({ Bucket: pair.from.bucket, Key: e.src.key, ChecksumMode: 'ENABLED' }))
              .catch(() => undefined),
            t.dst
              .send(new HeadObjectCommand({ Bucket: pair.to.bucket, Key: dstKey, ChecksumMode: 'ENABLED' }))
              .catch(() => undefined),
          ]);
          d = decideByChecksums(e.src, sh, dh) ?? decideWithMetadata(e.src, sh?.Metadata, dh?.Metadata);
        }
        const verdict: Verdict =
          d.action === 'skip'
            ? 'ok'
            : d.reason === 'missing'
              ? 'missing'
              : d.reason === 'size_differs'
                ? 'size_differs'
                : 'checksum_differs';
        yield { pair: i, srcKey, dstKey, src: e.src, dst: e.dst, verdict };
      }
    }
  }
}
