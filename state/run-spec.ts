/**
 * Where a run's spec is stored. Most specs are small and live on the run row. A spec too large
 * for one DynamoDB item (400 KB: a customers file of 100,000 DIDs is ~6 MB of JSON) is gzipped
 * and split into chunk rows `pk runspec#<runId>#<digest>`, `sk <n>`, written before the run row
 * names them (`specRef`), so a reader never meets a run row whose chunks are not there yet. The
 * digest in the key keeps two planners racing with different specs from mixing their chunks.
 */
import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { batchGetAll } from './batch.js';
import type { TableStore } from './store.js';

/** Specs up to this size (JSON bytes) stay on the run row, with room left for its other fields. */
export const INLINE_SPEC_MAX_BYTES = 300_000;
const CHUNK_BYTES = 350_000;

export type SpecStore = TableStore;

/** What the run row holds instead of a large spec. */
export interface StoredSpecRef {
  digest: string;
  chunks: number;
  bytes: number;
}

export interface StoredSpec {
  spec: Record<string, unknown>;
  specRef?: StoredSpecRef;
}

const chunkKey = (runId: string, digest: string, n: number) => ({
  pk: `runspec#${runId}#${digest}`,
  sk: String(n).padStart(4, '0'),
});

/** The attributes the run row gets for `spec`: the spec itself, or a reference to chunk rows written here. */
export async function storeSpec(s: SpecStore, runId: string, spec: Record<string, unknown>): Promise<StoredSpec> {
  const json = JSON.stringify(spec);
  if (Buffer.byteLength(json) <= INLINE_SPEC_MAX_BYTES) return { spec };
  const gz = gzipSync(json);
  const digest = createHash('sha256').update(json).digest('hex').slice(0, 16);
  const chunks = Math.ceil(gz.length / CHUNK_BYTES);
  for (let n = 0; n < chunks; n++) {
    await s.ddb.send(
      new PutCommand({
        TableName: s.table,
        Item: {
          ...chunkKey(runId, digest, n),
          type: 'runspec',
          data: gz.subarray(n * CHUNK_BYTES, (n + 1) * CHUNK_BYTES),
        },
      }),
    );
  }
  return { spec: {}, specRef: { digest, chunks, bytes: json.length } };
}

/** The full spec of a run row (reading its chunk rows when it has them). */
export async function readSpec(s: SpecStore, runId: string, row: StoredSpec): Promise<Record<string, unknown>> {
  if (!row.specRef) return row.spec;
  const { digest, chunks } = row.specRef;
  const keys = Array.from({ length: chunks }, (_, n) => chunkKey(runId, digest, n));
  const parts = new Map<string, Uint8Array>();
  const onRows = (rows: Record<string, unknown>[]) => {
    for (const item of rows) parts.set(item.sk as string, item.data as Uint8Array);
  };
  await batchGetAll(s.ddb, s.table, keys, onRows, {
    drain: {
      maxRetries: 10,
      exhausted: () => new Error(`run ${runId}: could not read its spec chunks (unprocessed keys kept coming back)`),
    },
  });
  const ordered = keys.map((k) => {
    const part = parts.get(k.sk);
    if (!part) throw new Error(`run ${runId}: spec chunk ${k.sk} is missing`);
    return Buffer.from(part);
  });
  return JSON.parse(gunzipSync(Buffer.concat(ordered)).toString('utf8')) as Record<string, unknown>;
}
