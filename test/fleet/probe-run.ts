/**
 * Seeding, planning and checking a fleet-probe run against a Fleet (the harness side talks to
 * the emulators directly). Shared by the fleet test, the scale benchmark and the chaos suite.
 */
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pLimit from 'p-limit';
import { planRun } from '../../coordinator/plan.js';
import { runStatus, type RunStatus } from '../../coordinator/status.js';
import { getRemote } from '../../shared/config.js';
import type { RetryPolicyInput } from '../../shared/retry-policy.js';
import { makeS3Client } from '../../shared/s3-clients.js';
import type { ConvoyContext } from '../../shared/context.js';
import type { EngineContext } from '../../worker/job-kind.js';
import { ensureTable } from '../../state/schema.js';
import type { VerifySummary } from '../../worker/job-kind.js';
import { getRun } from '../../state/runs.js';
import { probeKind, PROBE_KIND, srcKey, type ProbeSpec } from './probe-kind.js';

export interface SeedOptions {
  count: number;
  /** size of each source object @defaultValue 2048 */
  objectBytes?: number;
  /** simulated extra service time per item @defaultValue 0 */
  thinkMs?: number;
  /** CPU (a busy loop) per item @defaultValue 0 */
  spinMs?: number;
  /** name suffix (one bucket and peer table per run) */
  name: string;
}

/** Create the bucket, the source objects and the peer table; returns the run spec. */
export async function seedProbe(ctx: ConvoyContext, opts: SeedOptions): Promise<ProbeSpec> {
  const spec: ProbeSpec = {
    remote: 'local',
    bucket: `probe-${opts.name}`,
    peerTable: `peer-${opts.name}`,
    count: opts.count,
    thinkMs: opts.thinkMs ?? 0,
    spinMs: opts.spinMs ?? 0,
  };
  const s3 = makeS3Client(getRemote(ctx.config, 'local'));
  const ddb = new DynamoDBClient({
    region: ctx.config.state.region,
    endpoint: ctx.config.state.endpoints.dynamodb,
    credentials: ctx.config.state.credentials && { ...ctx.config.state.credentials },
  });
  try {
    await s3.send(new CreateBucketCommand({ Bucket: spec.bucket })).catch((err: Error) => {
      if (!/BucketAlready/.test(err.name)) throw err;
    });
    const limit = pLimit(32);
    const size = opts.objectBytes ?? 2048;
    await Promise.all(
      Array.from({ length: opts.count }, (_, n) =>
        limit(() => {
          const body = Buffer.alloc(size, `${n}:`);
          return s3.send(
            new PutObjectCommand({ Bucket: spec.bucket, Key: srcKey(n), Body: body, ContentLength: body.length }),
          );
        }),
      ),
    );
    await ensureTable(ddb, {
      TableName: spec.peerTable,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'itemId', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'itemId', KeyType: 'HASH' }],
    });
  } finally {
    s3.destroy();
    ddb.destroy();
  }
  return spec;
}

export async function planProbe(
  ctx: EngineContext,
  runId: string,
  spec: ProbeSpec,
  retry?: RetryPolicyInput,
): Promise<void> {
  await planRun(ctx, { kind: PROBE_KIND, runId, spec, retry });
}

/** Poll until no item is pending, leased or retrying. Calls `onTick` with each status. */
export async function waitForRun(
  ctx: ConvoyContext,
  runId: string,
  opts: { timeoutMs: number; intervalMs?: number; onTick?: (s: RunStatus) => void | Promise<void> },
): Promise<RunStatus> {
  const deadline = Date.now() + opts.timeoutMs;
  let last: RunStatus | undefined;
  let lastError: unknown;
  for (;;) {
    try {
      last = await runStatus(ctx, runId);
      await opts.onTick?.(last);
      const open = last.counts.pending + last.counts.leased + last.counts.retrying;
      if (open === 0 && last.run.planComplete) return last;
    } catch (err) {
      lastError = err; // the state store may be down on purpose (chaos): keep polling
    }
    if (Date.now() > deadline) {
      throw new Error(
        `run ${runId} did not finish in ${opts.timeoutMs} ms; last counts ${JSON.stringify(last?.counts)}${lastError ? `; last error ${String(lastError)}` : ''}`,
      );
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 500));
  }
}

export async function verifyProbe(ctx: ConvoyContext, runId: string, spec: ProbeSpec): Promise<VerifySummary> {
  const run = await getRun(ctx.meta, runId);
  if (!run) throw new Error(`run ${runId} not found`);
  const reportPath = path.join(mkdtempSync(path.join(tmpdir(), 'probe-verify-')), 'report.jsonl');
  return probeKind.verify!(run, spec, ctx, { reportPath, log: ctx.log });
}
