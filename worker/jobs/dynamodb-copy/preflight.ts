/**
 * Before anything is written or enqueued: both tables exist and answer, the transform module
 * loads, and the rules and module turn a sample of real source items into items that carry the
 * destination's key. If every sampled item fails, the transform is broken: InputError. (Single
 * bad rows are not input errors: their segment fails later, naming the row.)
 * Also the dry run: counts per segment and a sample of items before and after the transform.
 */
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import pLimit from 'p-limit';
import type { ConvoyConfig } from '../../../shared/config.js';
import { InputError, toError } from '../../../shared/errors.js';
import { preparePuts } from '../table-io/batch-writer.js';
import type { AttributeMap } from '../../../shared/item-size.js';
import { describeTable, tableClient } from '../table-io/table-ref.js';
import { makeTransformer } from './pipeline.js';
import type { CopySpec } from './spec.js';
import { countTable } from './verify.js';

export async function preflightCopy(spec: CopySpec, config: ConvoyConfig, sampleSize = 20) {
  const source = tableClient(config, spec.from.remote);
  const [src, dst] = await Promise.all([
    describeTable(source, spec.from, '--from'),
    describeTable(tableClient(config, spec.to.remote), spec.to, '--to'),
  ]);
  const transform = await makeTransformer(spec, src.keys);
  const page = await source.send(new ScanCommand({ TableName: spec.from.table, Limit: sampleSize }));
  const samples: { before: AttributeMap; after?: AttributeMap[]; error?: string }[] = [];
  for (const it of (page.Items ?? []) as AttributeMap[]) {
    try {
      const after = await transform(it);
      preparePuts(after, dst.keys);
      samples.push({ before: it, after });
    } catch (err) {
      samples.push({ before: it, error: toError(err).message });
    }
  }
  if (samples.length && samples.every((s) => s.error)) {
    throw new InputError(
      `the ${spec.transform ? `transform ${spec.transform.path}` : 'rules'} turned none of ${samples.length} sampled source items into a writable item for ${spec.to.table} (key ${dst.keys.join(', ')}); first error: ${samples[0]!.error}`,
    );
  }
  return { sourceKeys: src.keys, destKeys: dst.keys, samples };
}

export interface DryRunReport {
  from: string;
  to: string;
  segments: { segment: string; items: number }[];
  totalItems: number;
  sample: { before: unknown; after?: unknown[]; error?: string }[];
}

export async function dryRunCopy(
  spec: CopySpec,
  config: ConvoyConfig,
  opts: { sample?: number } = {},
): Promise<DryRunReport> {
  const pre = await preflightCopy(spec, config, opts.sample ?? 5);
  const source = tableClient(config, spec.from.remote);
  const limit = pLimit(8);
  const counts = await Promise.all(
    Array.from({ length: spec.segments }, (_, seg) =>
      limit(async () => ({
        segment: `${seg}/${spec.segments}`,
        items: await countTable(source, spec.from.table, spec.segments, seg),
      })),
    ),
  );
  return {
    from: `${spec.from.remote}:${spec.from.table}`,
    to: `${spec.to.remote}:${spec.to.table}`,
    segments: counts,
    totalItems: counts.reduce((a, c) => a + c.items, 0),
    sample: pre.samples.map((s) => ({
      before: unmarshall(s.before),
      after: s.after?.map((a) => unmarshall(a)),
      error: s.error,
    })),
  };
}
