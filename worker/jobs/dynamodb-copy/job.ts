/**
 * The runtime of dynamodb-copy: a table into another as parallel Scan segments with resume,
 * built-in rules and an optional transform module, a write budget and a verifier. What the kind
 * adds to convoy is declared in ./plugin.ts.
 */
import type { JobKind } from '../../job-kind.js';
import { copySegment } from './handler.js';
import { preflightCopy } from './preflight.js';
import { copySpecSchema, type CopySpec } from './spec.js';
import { verifyCopy } from './verify.js';

export const dynamodbCopyKind: JobKind<CopySpec> = {
  kind: 'dynamodb-copy',
  specSchema: copySpecSchema as never,
  async preflight(spec, ctx) {
    await preflightCopy(spec, ctx.config);
  },
  async *plan(spec) {
    for (let n = 0; n < spec.segments; n++) {
      yield {
        itemId: `segment:${n}/${spec.segments}`,
        kind: 'dynamodb-copy',
        group: spec.from.table,
        spec: { segment: n, total: spec.segments },
      };
    }
  },
  handle: copySegment,
  verify: verifyCopy,
};
