/**
 * A server-side multipart copy: CreateMultipartUpload with the destination's headers and metadata,
 * UploadPartCopy of each byte range of the source (conditional on its ETag, so a source replaced
 * meanwhile fails the copy instead of mixing versions), CompleteMultipartUpload. The way S3 copies
 * an object over CopyObject's 5 GiB limit, or rewrites the metadata of one, with no bytes through
 * the worker. An upload that fails is aborted (its parts would be billed until a lifecycle rule
 * removed them).
 *
 * Some S3-compatible stores do not implement UploadPartCopy (fauxqs answers it with HTTP 500):
 * when the first part fails that way the upload is aborted and `false` returned, and the caller
 * streams the object instead.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  type CreateMultipartUploadCommandInput,
  PutObjectTaggingCommand,
  type S3Client,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import pLimit from 'p-limit';
import { partCount } from './s3-limits.js';

export interface PartCopySource {
  bucket: string;
  key: string;
  /** quoted ETag the source must still have */
  ifMatch?: string;
}

export interface PartCopyOptions {
  partBytes: number;
  headers: Pick<
    CreateMultipartUploadCommandInput,
    'ContentType' | 'CacheControl' | 'ContentDisposition' | 'ContentEncoding' | 'ContentLanguage' | 'Expires'
  >;
  metadata: Record<string, string>;
  /** the destination's storage class, encryption, ACL and tags (object-properties.ts) */
  properties?: Pick<
    CreateMultipartUploadCommandInput,
    'StorageClass' | 'ServerSideEncryption' | 'SSEKMSKeyId' | 'ACL' | 'Tagging'
  >;
  /**
   * tags to set again once complete (PutObjectTagging): radosgw 16 ignores the create's
   * x-amz-tagging; AWS honours it, and the second write is the same tags
   */
  tags?: Array<{ Key: string; Value: string }>;
  signal?: AbortSignal;
  /** parts copied at once @defaultValue 4 */
  concurrency?: number;
}

/** An answer that means "not implemented here" rather than "failed this time". */
export function unsupported(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  const status = e.$metadata?.httpStatusCode;
  return e.name === 'NotImplemented' || status === 501 || status === 500;
}

export async function partCopy(
  client: S3Client,
  src: PartCopySource,
  dst: { bucket: string; key: string },
  sizeBytes: number,
  opts: PartCopyOptions,
): Promise<boolean> {
  const send = { abortSignal: opts.signal };
  const created = await client.send(
    new CreateMultipartUploadCommand({
      Bucket: dst.bucket,
      Key: dst.key,
      ...opts.headers,
      Metadata: opts.metadata,
      ...opts.properties,
    }),
    send,
  );
  const uploadId = created.UploadId!;
  const copySource = `${src.bucket}/${src.key.split('/').map(encodeURIComponent).join('/')}`;
  const copyPart = async (n: number) => {
    const start = (n - 1) * opts.partBytes;
    const end = Math.min(sizeBytes, start + opts.partBytes) - 1;
    const out = await client.send(
      new UploadPartCopyCommand({
        Bucket: dst.bucket,
        Key: dst.key,
        UploadId: uploadId,
        PartNumber: n,
        CopySource: copySource,
        CopySourceRange: `bytes=${start}-${end}`,
        CopySourceIfMatch: src.ifMatch,
      }),
      send,
    );
    return { PartNumber: n, ETag: out.CopyPartResult?.ETag };
  };
  try {
    const parts = partCount(sizeBytes, opts.partBytes);
    // the first part alone: an endpoint without UploadPartCopy is found before any other request
    let first: Awaited<ReturnType<typeof copyPart>>;
    try {
      first = await copyPart(1);
    } catch (err) {
      if (!unsupported(err)) throw err;
      await abort(client, dst, uploadId);
      return false;
    }
    const limit = pLimit(opts.concurrency ?? 4);
    const rest = await Promise.all(Array.from({ length: parts - 1 }, (_, i) => limit(() => copyPart(i + 2))));
    await client.send(
      new CompleteMultipartUploadCommand({
        Bucket: dst.bucket,
        Key: dst.key,
        UploadId: uploadId,
        MultipartUpload: { Parts: [first, ...rest] },
      }),
      send,
    );
    if (opts.tags?.length)
      await client.send(
        new PutObjectTaggingCommand({ Bucket: dst.bucket, Key: dst.key, Tagging: { TagSet: opts.tags } }),
        send,
      );
    return true;
  } catch (err) {
    await abort(client, dst, uploadId);
    throw err;
  }
}

async function abort(client: S3Client, dst: { bucket: string; key: string }, uploadId: string): Promise<void> {
  await client
    .send(new AbortMultipartUploadCommand({ Bucket: dst.bucket, Key: dst.key, UploadId: uploadId }))
    .catch(() => undefined);
}
