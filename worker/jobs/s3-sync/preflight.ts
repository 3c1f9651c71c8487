/**
 * Everything that can be wrong with an s3-sync spec is found here, before a run row or a message
 * exists: bad filter patterns, unknown remotes, unreachable endpoints, refused credentials, missing buckets (created
 * only with --create-buckets), and the latest-snapshot prefixes are resolved.
 */
import { CreateBucketCommand, HeadBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import type { ConvoyConfig } from '../../../shared/config.js';
import { getRemote } from '../../../shared/config.js';
import { InputError, classifyError } from '../../../shared/errors.js';
import { s3For } from './endpoints.js';
import { buildKeyFilter } from './filters.js';
import { checkObjectProperties } from './object-properties.js';
import { resolveSyncPrefixes } from './prefixes.js';
import { enableVersioning, requireVersioning } from './versions-preflight.js';
import type { S3Location, S3SyncSpec } from './spec.js';

type BucketState = 'exists' | 'missing';

async function headBucket(s3: S3Client, loc: S3Location, config: ConvoyConfig, role: string): Promise<BucketState> {
  const remote = getRemote(config, loc.remote);
  const where = `${role} ${loc.remote}:${loc.bucket} (${remote.endpoint ?? `AWS S3 ${remote.region}`})`;
  try {
    await s3.send(new HeadBucketCommand({ Bucket: loc.bucket }));
    return 'exists';
  } catch (err) {
    const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
    const status = e.$metadata?.httpStatusCode;
    if (e.name === 'NotFound' || e.name === 'NoSuchBucket' || status === 404) return 'missing';
    if (status === 403 || e.name === 'Forbidden' || e.name === 'AccessDenied') {
      throw new InputError(
        `access denied to ${where}: check the credentials or profile of remote "${loc.remote}" and its permissions on the bucket`,
        { cause: err },
      );
    }
    const c = classifyError(err);
    if (c.errorClass === 'SERVICE_UNAVAILABLE') {
      throw new InputError(
        `cannot reach ${where}: ${c.message}. Is the endpoint running and the URL in remote "${loc.remote}" right?`,
        { cause: err },
      );
    }
    throw new InputError(`checking ${where} failed: ${c.message}`, { cause: err });
  }
}

export async function preflightS3Sync(
  spec: S3SyncSpec,
  config: ConvoyConfig,
  opts: { dryRun?: boolean } = {},
): Promise<S3SyncSpec> {
  buildKeyFilter(spec); // a bad --include/--exclude pattern is an InputError before any request
  checkObjectProperties(spec); // --sse-kms-key-id without --sse aws:kms, from the API too
  const resolved: string[][] = [];
  for (const pair of spec.pairs) {
    const src = s3For(config, pair.from.remote);
    const dst = s3For(config, pair.to.remote);
    if ((await headBucket(src, pair.from, config, 'source')) === 'missing') {
      throw new InputError(
        `source bucket ${pair.from.remote}:${pair.from.bucket} does not exist; check the bucket name (and --buckets / the {} pattern)`,
      );
    }
    const dstState = await headBucket(dst, pair.to, config, 'destination');
    if (spec.allVersions && dstState === 'exists') await requireVersioning(dst, pair.to);
    if (dstState === 'missing') {
      if (!spec.createBuckets) {
        throw new InputError(
          `destination bucket ${pair.to.remote}:${pair.to.bucket} does not exist; create it or pass --create-buckets`,
        );
      }
      if (!opts.dryRun) await dst.send(new CreateBucketCommand({ Bucket: pair.to.bucket }));
      if (!opts.dryRun && spec.allVersions) await enableVersioning(dst, pair.to);
    }
    resolved.push(
      spec.resolvedPrefixes ? spec.resolvedPrefixes[resolved.length]! : await resolveSyncPrefixes(src, pair, spec),
    );
  }
  return { ...spec, resolvedPrefixes: resolved };
}
