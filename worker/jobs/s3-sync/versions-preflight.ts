/**
 * `--all-versions` needs a versioned destination: without versioning each copied version would
 * overwrite the one before and only the newest would remain. Checked at plan, before anything is
 * written; a bucket that --create-buckets creates is created versioned.
 */
import { GetBucketVersioningCommand, PutBucketVersioningCommand, type S3Client } from '@aws-sdk/client-s3';
import { InputError, classifyError } from '../../../shared/errors.js';
import type { S3Location } from './spec.js';

export async function requireVersioning(s3: S3Client, loc: S3Location): Promise<void> {
  const out = await s3.send(new GetBucketVersioningCommand({ Bucket: loc.bucket })).catch((err) => {
    throw new InputError(
      `--all-versions: cannot read the versioning of destination bucket ${loc.remote}:${loc.bucket}: ${classifyError(err).message} (the remote needs s3:GetBucketVersioning)`,
      { cause: err },
    );
  });
  if (out.Status === 'Enabled') return;
  throw new InputError(
    `--all-versions: destination bucket ${loc.remote}:${loc.bucket} is not versioned (versioning ${out.Status ?? 'never enabled'}), so each copied version would replace the one before; enable versioning on it (aws s3api put-bucket-versioning --bucket ${loc.bucket} --versioning-configuration Status=Enabled) or sync into a new bucket with --create-buckets, which creates it versioned`,
  );
}

export async function enableVersioning(s3: S3Client, loc: S3Location): Promise<void> {
  await s3.send(new PutBucketVersioningCommand({ Bucket: loc.bucket, VersioningConfiguration: { Status: 'Enabled' } }));
}
