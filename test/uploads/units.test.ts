/**
 * The uploads job's pure pieces and small adapters: balancing customers over instances, the
 * verify/dry-run report, CLI options -> spec, native Ed25519 (same bytes as the pure-JS path),
 * the lean fetch.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import * as ED25519 from '@noble/ed25519';
import { ed25519 } from '@ucanto/principal';
import { describe, expect, it } from 'vitest';
import { classifyError, InputError } from '../../shared/errors.js';
import type { ItemRow } from '../../state/item-row.js';
import { balance } from '../../worker/jobs/uploads/distribute.js';
import { specFromOptions } from '../../worker/jobs/uploads/plan-command.js';
import { describeUploadsOptions } from '../../worker/jobs/uploads/plugin.js';
import { createLeanFetch } from '../../worker/jobs/uploads/lean-fetch.js';
import { installNativeEd25519 } from '../../worker/jobs/uploads/native-ed25519.js';
import { estimateMinutes, UploadsReport } from '../../worker/jobs/uploads/report.js';
import { uploadsSpecSchema } from '../../worker/jobs/uploads/spec.js';

describe('balance', () => {
  it('spreads customers over instances by upload count, largest first, deterministically', () => {
    const counts = new Map([
      ['a', 100],
      ['b', 60],
      ['c', 50],
      ['d', 40],
      ['e', 10],
      ['f', 1],
    ]);
    const files = balance(counts, 2);
    // a(100)->1, b(60)->2, c(50)->2, d(40)->1, e(10)->2, f(1)->2
    expect(files.map((f) => f.uploads)).toEqual([140, 121]);
    expect(files[0]!.customers).toEqual(['a', 'd']);
    expect(files[1]!.customers).toEqual(['b', 'c', 'e', 'f']);
    expect(balance(counts, 2)).toEqual(files);
    expect(balance(counts, 10).filter((f) => f.customers.length === 0)).toHaveLength(4);
    expect(() => balance(counts, 0)).toThrow(InputError);
  });
});

function item(
  status: ItemRow['status'],
  customer: string,
  metrics: Record<string, number>,
  extra: Partial<ItemRow> = {},
): ItemRow {
  return {
    runId: 'r',
    itemId: `upload:s:${Math.random()}`,
    kind: 'uploads',
    group: `${customer}/s`,
    status,
    attempts: 1,
    spec: { type: 'upload', customer, space: 's', root: 'x' },
    createdAtMs: 0,
    updatedAtMs: 0,
    metrics: { bytes: 0, objects: 1, durationMs: 1, ...metrics },
    ...extra,
  } as ItemRow;
}

describe('UploadsReport', () => {
  it('dry-run: per customer uploads, shards, bytes and an estimate at the given rates', () => {
    const spec = uploadsSpecSchema.parse({
      target: { type: 'all' },
      mode: 'dry-run',
      estimate: { workers: 2, uploadsPerMinPerWorker: 100, indexMibPerSecPerWorker: 10 },
    });
    const r = new UploadsReport(spec);
    for (let i = 0; i < 3; i++) r.add(item('done', 'did:mailto:x:a', { shards: 2, bytes: 2 ** 20 }));
    r.add(item('done', 'did:mailto:x:b', { shards: 1, bytes: 600 * 2 ** 20, shardsUnknown: 1 }));
    r.add({
      ...item('done', 'did:mailto:x:b', {}),
      spec: { type: 'space', customer: 'did:mailto:x:b', space: 's', after: '' },
    } as ItemRow);
    expect(r.counts).toMatchObject({ uploads: 4, ok: 4, shards: 7 });
    expect(r.customers.get('did:mailto:x:a')).toEqual({ uploads: 3, shards: 6, bytes: 3 * 2 ** 20, shardsUnknown: 0 });
    const lines = r.lines().join('\n');
    expect(lines).toMatch(/did:mailto:x:b\s+1\s+1\s+600\.0 MiB\s+30 s \(1 shard size\(s\) unknown\)/); // 600 MiB at 10 MiB/s over 2 workers
    expect(lines).toMatch(/total\s+4\s+7\s+603\.0 MiB/);
    expect(r.clean).toBe(true);
  });

  it('verify-only: a line per upload that misses something, counted by what is missing', () => {
    const r = new UploadsReport(uploadsSpecSchema.parse({ target: { type: 'all' }, mode: 'verify-only' }));
    expect(r.add(item('done', 'c', { missingIndex: 0, missingLocations: 0, missingGateway: 0 }))).toBeUndefined();
    const line = r.add(item('done', 'c', { missingIndex: 1, missingLocations: 2, shards: 3, missingGateway: 0 }));
    expect(line).toMatchObject({
      status: 'done',
      missingIndex: true,
      shardsWithoutLocationForSpace: 2,
      shards: 3,
      missingGateway: false,
    });
    expect(
      r.add(
        item('failed', 'c', {}, { lastError: { errorClass: 'NO_SHARDS_NO_INDEX', message: 'm', retryable: false } }),
      ),
    ).toMatchObject({ error: { errorClass: 'NO_SHARDS_NO_INDEX' } });
    expect(r.counts).toMatchObject({
      uploads: 3,
      ok: 1,
      failed: 1,
      missing_index: 1,
      missing_locations: 1,
      missing_gateway: 0,
    });
    expect(r.clean).toBe(false);
  });

  it('estimates by count or by bytes, whichever takes longer', () => {
    const rates = { uploadsPerMinPerWorker: 60, indexMibPerSecPerWorker: 1 };
    expect(estimateMinutes({ uploads: 120, bytes: 0 }, rates, 1)).toBe(2);
    expect(estimateMinutes({ uploads: 1, bytes: 600 * 2 ** 20 }, rates, 2)).toBe(5);
  });
});

describe('specFromOptions', () => {
  it('turns CLI options into a spec and names bad combinations', () => {
    expect(specFromOptions({ space: 'did:key:z6Mk1', cid: 'bafy1234567890' }).target).toEqual({
      type: 'upload',
      space: 'did:key:z6Mk1',
      root: 'bafy1234567890',
    });
    expect(specFromOptions({ dryRun: true, workers: 4 }).estimate).toEqual({ workers: 4 });
    expect(() => specFromOptions({ workers: 4 })).toThrow(/--dry-run/);
    expect(() => specFromOptions({ verifyOnly: true, repair: true })).toThrow(/choose one mode/);
    expect(() => specFromOptions({ cid: 'bafy1234567890' })).toThrow(/--cid needs --space/);
    // a value the schema refuses is named by its flag, not by the spec field it fills
    expect(() => specFromOptions({ pageSize: 5000 })).toThrow(/^--page-size: /);
    expect(() => specFromOptions({ segments: 5000 })).toThrow(/^--segments: /);
  });

  it("the run's options line (status, monitor, API): mode, --limit if any, rate control", () => {
    expect(describeUploadsOptions(specFromOptions({}))).toBe('mode migrate, rate-control adaptive');
    expect(describeUploadsOptions(specFromOptions({ dryRun: true, limit: 100, rateControl: 'fixed' }))).toBe(
      'mode dry-run, limit 100, rate-control fixed',
    );
  });
});

describe('native Ed25519', () => {
  it('signs exactly like the pure-JS path and verifies (and refuses) like it', async () => {
    const signer = await ed25519.generate();
    const payloads = [new Uint8Array(0), new Uint8Array(300).fill(7), crypto.getRandomValues(new Uint8Array(4096))];
    const pure = await Promise.all(
      payloads.map((p) => ED25519.sign(p, (signer as unknown as { secret: Uint8Array }).secret)),
    );
    await installNativeEd25519();
    for (const [i, p] of payloads.entries()) {
      const sig = await signer.sign(p);
      expect(Buffer.from(sig.raw).equals(Buffer.from(pure[i]!))).toBe(true);
      expect(await signer.verifier.verify(p, sig)).toBe(true);
      const tampered = Uint8Array.from(p.length ? p : [1]);
      tampered[0]! ^= 1;
      expect(await signer.verifier.verify(tampered, sig)).toBe(false);
      expect(await (await ed25519.generate()).verifier.verify(p, sig)).toBe(false);
    }
  });
});

describe('lean fetch', () => {
  it('reads status, headers and (gzip) bodies; network faults keep their codes', async () => {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (req.url === '/gz') {
          res.writeHead(200, { 'content-encoding': 'gzip', 'x-a': 'b' });
          res.end(gzipSync('hello'));
          return;
        }
        res.writeHead(req.url === '/missing' ? 404 : 200);
        res.end(Buffer.concat([Buffer.from(`${req.method} `), ...chunks]));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const f = createLeanFetch();
    try {
      const r = await f(`${base}/echo`, { method: 'POST', body: new Uint8Array([104, 105]) });
      expect([r.ok, r.status, await r.text()]).toEqual([true, 200, 'POST hi']);
      const gz = await f(new URL(`${base}/gz`));
      expect([await gz.text(), gz.headers.get('x-a')]).toEqual(['hello', 'b']);
      const missing = await f(`${base}/missing`);
      expect([missing.ok, missing.status]).toEqual([false, 404]);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
    const err = await f(base).catch((e: unknown) => e);
    expect((err as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
    expect(classifyError(err).retryable).toBe(true);
  });
});
