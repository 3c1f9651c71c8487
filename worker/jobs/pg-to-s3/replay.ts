/**
 * Replay: stream a run's exported events back, in order, for a time window. The run's manifest
 * lists the partitions; those overlapping [from, to) are fetched in time order (the next two are
 * downloaded while the current one is written out), gunzipped, and each line whose time column
 * falls in the window is written to `out` unchanged. Order within a partition is the export's
 * order (e.g. aggregate, sequence).
 */
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { InputError, NotFoundError } from '../../../shared/errors.js';
import { linesOf, openObject } from './object-reader.js';
import { manifestKey, overlapping } from './partitions.js';
import type { Manifest } from './plan.js';
import type { PgToS3Spec } from './spec.js';

export async function readManifest(s3: S3Client, spec: PgToS3Spec, runId: string): Promise<Manifest> {
  const key = manifestKey(spec.to.prefix, runId);
  try {
    const out = await s3.send(new GetObjectCommand({ Bucket: spec.to.bucket, Key: key }));
    return JSON.parse(await out.Body!.transformToString()) as Manifest;
  } catch (err) {
    throw new NotFoundError(
      'MANIFEST_MISSING',
      `manifest s3://${spec.to.bucket}/${key} of run ${runId} cannot be read: ${(err as Error).message}`,
      { cause: err },
    );
  }
}

export function parseWindow(from: string | undefined, to: string | undefined): { fromMs: number; toMs: number } {
  const fromMs = from ? Date.parse(from) : -Infinity;
  const toMs = to ? Date.parse(to) : Infinity;
  if (Number.isNaN(fromMs))
    throw new InputError(`--from "${from}" is not a timestamp (for example 2024-11-01T00:00:00Z)`);
  if (Number.isNaN(toMs)) throw new InputError(`--to "${to}" is not a timestamp (for example 2024-11-14T00:00:00Z)`);
  if (fromMs >= toMs) throw new InputError('--from must be before --to');
  return { fromMs, toMs };
}

export async function replay(
  s3: S3Client,
  spec: PgToS3Spec,
  manifest: Manifest,
  window: { fromMs: number; toMs: number },
  out: Writable,
): Promise<{ events: number; partitions: number }> {
  const parts = overlapping(manifest.partitions, window.fromMs, window.toMs);
  const opened: Promise<import('node:stream').Readable>[] = [];
  const open = (i: number) => {
    if (i < parts.length && !opened[i]) {
      opened[i] = openObject(s3, spec.to.bucket, parts[i]!.key);
      opened[i]!.catch(() => undefined);
    }
  };
  let events = 0;
  for (let i = 0; i < parts.length; i++) {
    open(i);
    open(i + 1);
    open(i + 2);
    const whole = parts[i]!.startSec * 1000 >= window.fromMs && parts[i]!.endSec * 1000 <= window.toMs;
    let buf = '';
    for await (const line of linesOf(await opened[i]!)) {
      if (!whole) {
        const t = Date.parse(String((JSON.parse(line) as Record<string, unknown>)[spec.timeColumn]));
        if (!(t >= window.fromMs && t < window.toMs)) continue;
      }
      buf += line + '\n';
      events++;
      if (buf.length > 64 * 1024) {
        if (!out.write(buf)) await once(out, 'drain');
        buf = '';
      }
    }
    if (buf && !out.write(buf)) await once(out, 'drain');
  }
  return { events, partitions: parts.length };
}
