/**
 * `fleet-probe`: a small, latency-bound job kind for the fleet harness (test-only). Added the way
 * any kind is: its plugin (`probePlugin`) in a registry, here the test CLI entry beside this file
 * (convoy-probe-cli.ts), which worker processes of the fleet run.
 *
 * Per item `probe:<n>`: read `src/<n>` from S3, ask the peer whether the item is registered,
 * write `dst/<n>` (= sha256 of the source + the source), then register it at the peer. The peer
 * is a DynamoDB table that COUNTS registrations (`ADD registrations 1`), like a service that
 * would bill or index twice: a handler that is not idempotent, or two workers acting on one item
 * at once, shows up there as registrations > 1. The handler checks before registering and checks
 * its lease before each side effect, as a real kind must.
 *
 * `verify` checks every done item: destination object present and correct, registered exactly once.
 */
import { createHash } from 'node:crypto';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { writeFileSync } from 'node:fs';
import * as z from 'zod';
import { getRemote } from '../../shared/config.js';
import { makeS3Client } from '../../shared/s3-clients.js';
import type { ConvoyContext } from '../../shared/context.js';
import { itemsOfRun } from '../../state/item-bulk.js';
import type { JobKind } from '../../worker/job-kind.js';

export const PROBE_KIND = 'fleet-probe';

export const probeSpecSchema = z.object({
  remote: z.string().default('local'),
  bucket: z.string().min(3),
  /** the peer table that counts registrations */
  peerTable: z.string().min(3),
  count: z.number().int().min(1),
  /** extra simulated service time per item (a remote call we do not emulate), ms */
  thinkMs: z.number().int().min(0).default(0),
  /** CPU spent per item on the event loop (a busy loop), ms: a CPU-bound kind */
  spinMs: z.number().int().min(0).default(0),
});
export type ProbeSpec = z.infer<typeof probeSpecSchema>;

export const probeItemId = (n: number) => `probe:${String(n).padStart(6, '0')}`;
export const srcKey = (n: number) => `src/${String(n).padStart(6, '0')}`;
export const dstKey = (n: number) => `dst/${String(n).padStart(6, '0')}`;

/** What `dst/<n>` must contain for a given source body. */
export function expectedDestination(src: Buffer): Buffer {
  return Buffer.concat([Buffer.from(createHash('sha256').update(src).digest('hex') + '\n'), src]);
}

const s3Clients = new WeakMap<ConvoyContext, S3Client>();
function s3For(ctx: ConvoyContext, remote: string): S3Client {
  let c = s3Clients.get(ctx);
  if (!c) {
    c = makeS3Client(getRemote(ctx.config, remote));
    s3Clients.set(ctx, c);
  }
  return c;
}

async function bodyOf(out: { Body?: unknown }): Promise<Buffer> {
  const body = out.Body as { transformToByteArray(): Promise<Uint8Array> } | undefined;
  return body ? Buffer.from(await body.transformToByteArray()) : Buffer.alloc(0);
}

export const probeKind: JobKind<ProbeSpec> = {
  kind: PROBE_KIND,
  specSchema: probeSpecSchema as never,
  async preflight() {},
  async *plan(spec) {
    for (let n = 0; n < spec.count; n++)
      yield { itemId: probeItemId(n), kind: PROBE_KIND, group: `g${n % 8}`, spec: { n } };
  },
  async handle(item, { ctx, spec, signal, assertLease }) {
    const n = Number(item.spec.n);
    const s3 = s3For(ctx, spec.remote);
    const src = await bodyOf(
      await s3.send(new GetObjectCommand({ Bucket: spec.bucket, Key: srcKey(n) }), { abortSignal: signal }),
    );
    const peer = await ctx.clients.ddb.send(
      new GetCommand({ TableName: spec.peerTable, Key: { itemId: item.itemId }, ConsistentRead: true }),
      { abortSignal: signal },
    );
    if (spec.thinkMs) await new Promise((r) => setTimeout(r, spec.thinkMs));
    for (const until = performance.now() + spec.spinMs; performance.now() < until; );
    const dst = expectedDestination(src);
    assertLease();
    await s3.send(new PutObjectCommand({ Bucket: spec.bucket, Key: dstKey(n), Body: dst, ContentLength: dst.length }), {
      abortSignal: signal,
    });
    if (!peer.Item?.registrations) {
      assertLease();
      await ctx.clients.ddb.send(
        new UpdateCommand({
          TableName: spec.peerTable,
          Key: { itemId: item.itemId },
          UpdateExpression: 'ADD registrations :one SET lastBy = :me',
          ExpressionAttributeValues: { ':one': 1, ':me': item.leaseOwner ?? 'unknown' },
        }),
        { abortSignal: signal },
      );
    }
    return { bytes: dst.length, objects: 1, skipped: peer.Item?.registrations ? 1 : 0 };
  },
  async verify(run, spec, ctx, opts) {
    const counts: Record<string, number> = {
      ok: 0,
      missing: 0,
      differs: 0,
      unregistered: 0,
      registered_twice: 0,
      not_done: 0,
    };
    const lines: string[] = [];
    const s3 = s3For(ctx, spec.remote);
    for await (const page of itemsOfRun(ctx.items, run.runId)) {
      for (const item of page) {
        if (item.status !== 'done') {
          counts.not_done!++;
          continue;
        }
        const n = Number(item.spec.n);
        const peer = await ctx.clients.ddb.send(
          new GetCommand({ TableName: spec.peerTable, Key: { itemId: item.itemId }, ConsistentRead: true }),
        );
        const regs = Number(peer.Item?.registrations ?? 0);
        let category = 'ok';
        try {
          const src = await bodyOf(await s3.send(new GetObjectCommand({ Bucket: spec.bucket, Key: srcKey(n) })));
          const dst = await bodyOf(await s3.send(new GetObjectCommand({ Bucket: spec.bucket, Key: dstKey(n) })));
          if (!dst.equals(expectedDestination(src))) category = 'differs';
        } catch {
          category = 'missing';
        }
        if (category === 'ok' && regs === 0) category = 'unregistered';
        if (category === 'ok' && regs > 1) category = 'registered_twice';
        counts[category]!++;
        if (category !== 'ok') lines.push(JSON.stringify({ itemId: item.itemId, category, registrations: regs }));
      }
    }
    writeFileSync(opts.reportPath, lines.join('\n') + (lines.length ? '\n' : ''));
    const clean = Object.entries(counts).every(([k, v]) => k === 'ok' || v === 0);
    return { counts, clean, reportPath: opts.reportPath, lines };
  },
};
