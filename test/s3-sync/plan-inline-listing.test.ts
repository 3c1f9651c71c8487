/**
 * listMode auto: the coordinator lists the first pages of top-level prefixes itself and plans their
 * ranges, up to a budget of pages for the whole plan (planner.ts INLINE_LIST_PAGES); a prefix cut
 * off mid-listing goes to the fleet as a list item that starts after the last range planned. A
 * proxy clamps every listing of the source to 10 keys a page, so the budget of 10 pages runs out
 * in the second prefix.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { planRun } from '../../coordinator/plan.js';
import { itemsOfRun } from '../../state/item-bulk.js';
import type { ItemRow } from '../../state/item-row.js';
import { specFromCli } from '../../worker/jobs/s3-sync/cli.js';
import { INLINE_LIST_PAGES } from '../../worker/jobs/s3-sync/planner.js';
import { putObjects } from '../fixtures/s3-data.js';
import { workUntilDone } from '../helpers/in-process-run.js';
import { startS3Proxy } from '../helpers/s3-proxy.js';
import { listKeys, useTwoEndpointStack } from '../helpers/s3.js';
import { freshEnv, type TestStack } from '../helpers/stack.js';

let t: TestStack;
let minio: S3Client;
let local: S3Client;
useTwoEndpointStack((s) => ({ t, minio, local } = s));

const PAGE = 10;
const keysUnder = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) => `${prefix}k${String(i).padStart(3, '0')}`);
// a/ takes 8 of the 10 pages, b/ the last 2 (20 keys) and is cut off there
const KEYS = ['top-1', 'top-2', ...keysUnder('a/', 80), ...keysUnder('b/', 60)];

describe('planning s3-sync with the coordinator listing the first pages (--list-mode auto)', () => {
  it('plans the ranges of what it listed, hands the rest of a cut-off prefix to the fleet, and every key is copied once', async () => {
    expect(INLINE_LIST_PAGES).toBe(10);
    await putObjects(
      minio,
      'inline-src',
      KEYS.map((key) => ({ key, size: 8, contentType: 'text/plain' })),
    );
    const listings: string[] = [];
    const startAfters: string[] = [];
    const proxy = await startS3Proxy(t.stack.remotes.minio!.endpoint, {
      before: (req) => {
        const url = new URL(req.url ?? '/', 'http://x');
        if (req.method !== 'GET' || url.searchParams.get('list-type') !== '2') return;
        listings.push(url.searchParams.get('prefix') ?? '');
        startAfters.push(url.searchParams.get('start-after') ?? '');
        url.searchParams.set('max-keys', String(Math.min(Number(url.searchParams.get('max-keys') ?? 1000), PAGE)));
        req.url = url.pathname + url.search;
      },
    });
    const env = await freshEnv(t.stack, { remotes: { paged: { ...t.stack.remotes.minio!, endpoint: proxy.url } } });
    try {
      const runId = 'inline-1';
      await planRun(env.ctx, {
        kind: 's3-sync',
        runId,
        spec: {
          ...specFromCli({ from: 'paged:inline-src', to: 'local:inline-dst', createBuckets: true }),
          rangeMaxKeys: 5,
        },
      });
      // the coordinator listed a/ in 8 pages and b/ in 2, then stopped
      expect(listings.filter((p) => p === 'a/')).toHaveLength(8);
      expect(listings.filter((p) => p === 'b/')).toHaveLength(2);
      const planned: ItemRow[] = [];
      for await (const page of itemsOfRun(env.ctx.items, runId)) planned.push(...page);
      const specs = planned.map((i) => i.spec as { type: string; prefix: string; startAfter?: string });
      expect(specs.filter((s) => s.type === 'range' && s.prefix === 'a/')).toHaveLength(16);
      expect(specs.filter((s) => s.type === 'range' && s.prefix === 'b/')).toHaveLength(4);
      expect(specs.filter((s) => s.type === 'list')).toEqual([
        expect.objectContaining({ prefix: 'b/', startAfter: 'b/k019' }),
      ]);

      const status = await workUntilDone(env, runId, { concurrency: 4, transfers: 16 });
      expect(status.counts.failed).toBe(0);
      expect(status.counters.objects).toBe(KEYS.length);
      expect([...(await listKeys(local, 'inline-dst')).keys()].sort()).toEqual([...KEYS].sort());
      // the list item listed b/ from where the coordinator stopped (its listing starts after
      // b/k019; the first range it added copies from the listing carried in its message, so it
      // does not list again), and added b/'s other 40 keys as 8 ranges
      expect(startAfters.filter((k) => k === 'b/k019')).toHaveLength(1);
      const ranges: ItemRow[] = [];
      for await (const page of itemsOfRun(env.ctx.items, runId)) ranges.push(...page);
      expect(
        ranges.filter(
          (i) =>
            (i.spec as { type: string; prefix: string }).prefix === 'b/' &&
            (i.spec as { type: string }).type === 'range',
        ),
      ).toHaveLength(12);
    } finally {
      env.close();
      await proxy.close();
    }
  }, 120_000);
});
