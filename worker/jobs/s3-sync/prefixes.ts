/**
 * Which prefixes a pair syncs: the pair's own prefix, or, with --latest-prefix, the newest child
 * prefix of each named prefix (dev to prod: copy only the latest ChromaDB snapshot). Resolved once
 * at planning and stored in the spec, so workers and verify see the same snapshot even if a newer
 * one appears during the run.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { InputError } from '../../../shared/errors.js';
import { compareKeys, listLevel, listObjects } from './listing.js';
import type { BucketPair, S3SyncSpec } from './spec.js';

export async function resolveSyncPrefixes(
  s3: S3Client,
  pair: BucketPair,
  spec: Pick<S3SyncSpec, 'latestPrefix' | 'latestBy'>,
): Promise<string[]> {
  if (!spec.latestPrefix.length) return [pair.from.prefix];
  const out: string[] = [];
  for (const lp of spec.latestPrefix) {
    const parent = pair.from.prefix + (lp.endsWith('/') || lp === '' ? lp : `${lp}/`);
    const children: string[] = [];
    for await (const entry of listLevel(s3, pair.from.bucket, parent))
      if ('childPrefix' in entry) children.push(entry.childPrefix);
    if (!children.length) {
      throw new InputError(
        `--latest-prefix ${lp}: no child prefixes under ${pair.from.remote}:${pair.from.bucket}/${parent}; check the prefix (it should contain one folder per snapshot)`,
      );
    }
    out.push(
      spec.latestBy === 'name'
        ? children.sort(compareKeys).at(-1)!
        : await newestByModified(s3, pair.from.bucket, children),
    );
  }
  return out;
}

async function newestByModified(s3: S3Client, bucket: string, children: string[]): Promise<string> {
  let best = children[0]!;
  let bestMs = -1;
  for (const child of children) {
    for await (const o of listObjects(s3, { bucket, prefix: child })) {
      if (o.lastModifiedMs > bestMs) {
        bestMs = o.lastModifiedMs;
        best = child;
      }
    }
  }
  return best;
}
