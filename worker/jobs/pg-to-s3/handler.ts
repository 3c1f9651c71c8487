/**
 * One item = one time partition: rows streamed from a cursor, serialised as NDJSON, gzipped and
 * uploaded as one object (multipart, so any size in bounded memory). A retry rewrites the whole
 * object: the same rows in the same order give the same bytes, so redoing is idempotent.
 * The partition's row count and the sha256 of its NDJSON are saved on the item row (checkpoint)
 * once the object is complete; `convoy verify` recomputes both sides against them.
 */
import { PassThrough } from 'node:stream';
import { createGzip } from 'node:zlib';
import { once } from 'node:events';
import { Upload } from '@aws-sdk/lib-storage';
import type { S3Client } from '@aws-sdk/client-s3';
import { getRemote, type ConvoyConfig } from '../../../shared/config.js';
import { sharedS3Client } from '../../../shared/s3-clients.js';
import { classifyError } from '../../../shared/errors.js';
import type { ItemRow } from '../../../state/item-row.js';
import type { ItemContext, ItemOutcome } from '../../job-kind.js';
import { readPartition } from './export.js';
import type { PgToS3Spec } from './spec.js';

export interface PartitionResult {
  key: string;
  rows: number;
  sha256: string;
  bytes: number;
  gzBytes: number;
}

export function s3For(config: ConvoyConfig, remote: string): S3Client {
  return sharedS3Client(getRemote(config, remote));
}

export async function exportPartition(item: ItemRow, ictx: ItemContext<PgToS3Spec>): Promise<ItemOutcome> {
  const { spec, ctx } = ictx;
  const key = String(item.spec.key);
  const startSec = Number(item.spec.startSec);
  const endSec = Number(item.spec.endSec);
  const gzip = createGzip({ level: 6 });
  const body = new PassThrough();
  let gzBytes = 0;
  gzip.on('data', (c: Buffer) => (gzBytes += c.length));
  gzip.pipe(body);
  ictx.assertLease();
  const upload = new Upload({
    client: s3For(ctx.config, spec.to.remote),
    params: {
      Bucket: spec.to.bucket,
      Key: key,
      Body: body,
      ContentType: 'application/x-ndjson',
      ContentEncoding: 'gzip',
    },
    partSize: 8 * 1024 * 1024,
    queueSize: 2,
    leavePartsOnError: false,
  });
  const onAbort = () => void upload.abort().catch(() => undefined);
  ictx.signal.addEventListener('abort', onAbort, { once: true });
  const uploaded = upload.done();
  uploaded.catch(() => undefined);
  try {
    const read = await readPartition(
      spec,
      startSec,
      endSec,
      async (lines) => {
        if (!gzip.write(lines)) await once(gzip, 'drain');
      },
      ictx.signal,
    );
    gzip.end();
    await uploaded.catch((err) => {
      throw classifyError(err);
    });
    ictx.assertLease();
    const result: PartitionResult = { key, rows: read.rows, sha256: read.sha256, bytes: read.bytes, gzBytes };
    await ictx.saveCheckpoint(result, { objects: read.rows, bytes: read.bytes });
    return { bytes: read.bytes, objects: read.rows, gzBytes };
  } catch (err) {
    gzip.destroy();
    body.destroy();
    onAbort();
    throw err;
  } finally {
    ictx.signal.removeEventListener('abort', onAbort);
  }
}
