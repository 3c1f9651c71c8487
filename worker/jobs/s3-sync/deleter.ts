/**
 * Deleting destination keys for --delete: DeleteObjects, 1,000 keys a request (a Delta Lake vacuum
 * removes thousands of files), checked key by key, since S3 answers 200 and lists per-key errors.
 */
import { DeleteObjectCommand, DeleteObjectsCommand, type S3Client } from '@aws-sdk/client-s3';
import { ConvoyError, classifyError } from '../../../shared/errors.js';

const BATCH = 1000;

/**
 * Keys with control characters go one by one (DELETE on the key's own URL): in the XML body of
 * DeleteObjects a carriage return needs an entity that some S3 implementations do not decode, and
 * XML 1.0 cannot carry most other control characters at all.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const needsOwnRequest = (key: string) => /[\u0000-\u001f\u007f]/.test(key);

export interface DeleteOptions {
  signal?: AbortSignal;
  /** throws unless this worker still holds the item: checked before each request */
  assertLease(): void;
}

/** Delete the keys as they come; returns how many were deleted. */
export async function deleteKeys(
  s3: S3Client,
  bucket: string,
  keys: AsyncIterable<string> | Iterable<string>,
  opts: DeleteOptions,
): Promise<number> {
  let deleted = 0;
  let batch: string[] = [];
  const flush = async () => {
    if (!batch.length) return;
    opts.assertLease();
    const out = await s3
      .send(
        new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }),
        { abortSignal: opts.signal },
      )
      .catch((err) => {
        throw classifyError(err);
      });
    const errors = out.Errors ?? [];
    if (errors.length) {
      const first = errors[0]!;
      const message = `${errors.length} of ${batch.length} destination key(s) could not be deleted from ${bucket}; first: ${first.Key} (${first.Code}: ${first.Message})`;
      const context = { keys: errors.slice(0, 20).map((e) => e.Key) };
      if (first.Code === 'AccessDenied')
        throw new ConvoyError(
          'ACCESS_DENIED',
          `${message}; the destination remote needs s3:DeleteObject for --delete`,
          { context },
        );
      throw new ConvoyError(first.Code === 'SlowDown' ? 'THROTTLED' : 'UNKNOWN', message, { retryable: true, context });
    }
    deleted += batch.length;
    batch = [];
  };
  for await (const key of keys) {
    if (needsOwnRequest(key)) {
      opts.assertLease();
      await s3
        .send(new DeleteObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: opts.signal })
        .catch((err) => {
          throw classifyError(err);
        });
      deleted++;
      continue;
    }
    batch.push(key);
    if (batch.length >= BATCH) await flush();
  }
  await flush();
  return deleted;
}
