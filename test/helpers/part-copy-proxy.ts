/**
 * A proxy in front of an S3 emulator that lacks UploadPartCopy (fauxqs 1.9.2 answers it with HTTP
 * 500): it does what S3 does for one, with the emulator's own operations (a ranged GET of the source,
 * conditional on x-amz-copy-source-if-match, and an UploadPart of those bytes), and answers with
 * S3's CopyPartResult. Everything else goes to the emulator untouched. It counts what convoy asked
 * for and lets a test act at the moment a part copy arrives (hold it, kill a worker, answer it with an error).
 * With `native: true` it only counts (and lets a test act): every request goes to the store, in
 * front of one that implements UploadPartCopy itself (fauxqs 2.4.1, radosgw), or of fauxqs 1.9.2
 * to get its HTTP 500. `onCopyObject` lets a test answer a CopyObject (S3's size limit on it).
 */
import type http from 'node:http';
import { GetObjectCommand, type S3Client, UploadPartCommand } from '@aws-sdk/client-s3';
import { type ProxyVerdict, startS3Proxy } from './s3-proxy.js';

export interface PartCopyRequest {
  bucket: string;
  key: string;
  partNumber: number;
  uploadId: string;
}

export interface PartCopySeen {
  /** UploadPartCopy requests, by part number */
  partCopies: number[];
  /** CopyObject requests (a PUT with a copy source and no part number) */
  copyObjects: number;
  /** CompleteMultipartUpload requests */
  completes: number;
  /** AbortMultipartUpload requests */
  aborts: number;
  /** GetObjectTagging requests (answered by the proxy unless native: fauxqs 1.9.2 has none) */
  taggingReads: number;
  /** GETs of the source objects (bytes through a worker) */
  sourceGets: number;
}

/** `bucket/key` of an x-amz-copy-source header (URL-encoded, maybe with a leading slash). */
function copySourceOf(req: http.IncomingMessage): { bucket: string; key: string } | undefined {
  const raw = req.headers['x-amz-copy-source'];
  if (typeof raw !== 'string') return undefined;
  const [bucket, ...key] = decodeURIComponent(raw.replace(/^\//, '').split('?')[0]!).split('/');
  return { bucket: bucket!, key: key.join('/') };
}

export interface PartCopyProxyOptions {
  /** the bucket whose object GETs are counted as `sourceGets` */
  sourceBucket: string;
  /** called as a part copy arrives; a verdict answers it instead */
  onPartCopy?: (r: PartCopyRequest) => Promise<ProxyVerdict> | ProxyVerdict;
  /** forward part copies and tag reads to the store (count only) @defaultValue false */
  native?: boolean;
  /** called as a CopyObject arrives; a verdict answers it instead */
  onCopyObject?: (source: { bucket: string; key: string }) => Promise<ProxyVerdict> | ProxyVerdict;
}

export async function startPartCopyProxy(
  upstream: string,
  emulator: S3Client,
  opts: PartCopyProxyOptions = { sourceBucket: '' },
) {
  const seen: PartCopySeen = {
    partCopies: [],
    copyObjects: 0,
    completes: 0,
    aborts: 0,
    sourceGets: 0,
    taggingReads: 0,
  };
  const proxy = await startS3Proxy(upstream, {
    before: async (req) => {
      const url = new URL(req.url ?? '/', 'http://x');
      // fauxqs 1.9.2 has no GetObjectTagging either (it answers `?tagging` with the object's
      // body): answered here as S3 answers it for an object without tags
      if (req.method === 'GET' && url.searchParams.has('tagging')) {
        seen.taggingReads++;
        if (opts.native) return;
        return { status: 200, body: '<?xml version="1.0" encoding="UTF-8"?><Tagging><TagSet></TagSet></Tagging>' };
      }
      // GETs of an object of the source bucket (not listings of it)
      if (
        req.method === 'GET' &&
        url.pathname.startsWith(`/${opts.sourceBucket}/`) &&
        !url.searchParams.has('list-type')
      )
        seen.sourceGets++;
      if (req.method === 'POST' && url.searchParams.has('uploadId')) seen.completes++;
      if (req.method === 'DELETE' && url.searchParams.has('uploadId')) seen.aborts++;
      const source = copySourceOf(req);
      const partNumber = url.searchParams.get('partNumber');
      if (req.method !== 'PUT' || !source) return;
      if (!partNumber) {
        seen.copyObjects++;
        return opts.onCopyObject?.(source);
      }
      const [bucket, ...key] = url.pathname.replace(/^\//, '').split('/');
      const r = {
        bucket: bucket!,
        key: decodeURIComponent(key.join('/')),
        partNumber: Number(partNumber),
        uploadId: url.searchParams.get('uploadId')!,
      };
      seen.partCopies.push(r.partNumber);
      const verdict = await opts.onPartCopy?.(r);
      if (verdict || opts.native) return verdict;
      const ifMatch = req.headers['x-amz-copy-source-if-match'];
      try {
        const got = await emulator.send(
          new GetObjectCommand({
            Bucket: source.bucket,
            Key: source.key,
            Range: String(req.headers['x-amz-copy-source-range']),
            IfMatch: typeof ifMatch === 'string' ? ifMatch : undefined,
          }),
        );
        const part = await emulator.send(
          new UploadPartCommand({
            Bucket: r.bucket,
            Key: r.key,
            UploadId: r.uploadId,
            PartNumber: r.partNumber,
            Body: Buffer.from(await got.Body!.transformToByteArray()),
          }),
        );
        return {
          status: 200,
          body: `<?xml version="1.0" encoding="UTF-8"?><CopyPartResult><LastModified>${new Date().toISOString()}</LastModified><ETag>${part.ETag}</ETag></CopyPartResult>`,
        };
      } catch (err) {
        const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode ?? 500;
        const code = (err as { name?: string }).name ?? 'InternalError';
        return {
          status,
          body: `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${code}</Message></Error>`,
        };
      }
    },
  });
  return { proxy, seen };
}
