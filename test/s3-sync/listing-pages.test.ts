/**
 * ListObjectsV2 returns at most 1,000 keys a page on S3, whatever MaxKeys asks for; a prefix
 * with more is listed over several pages (continuation tokens). fauxqs answers a listing without
 * MaxKeys in one page, so a proxy clamps every listing to 1,000 keys, as S3 does, and counts the
 * pages: a sync of 2,050 keys under one prefix must list it in pages and copy every key once.
 */
import { describe, expect, it } from 'vitest';
import { planRun } from '../../coordinator/plan.js';
import { specFromCli } from '../../worker/jobs/s3-sync/cli.js';
import { putObjects } from '../fixtures/s3-data.js';
import { listKeys, useTwoEndpointStack } from '../helpers/s3.js';
import { startS3Proxy } from '../helpers/s3-proxy.js';
import { workUntilDone } from '../helpers/in-process-run.js';
import { freshEnv, type TestStack } from '../helpers/stack.js';
import type { S3Client } from '@aws-sdk/client-s3';

const KEYS = 2_050;

let t: TestStack;
let minio: S3Client;
let local: S3Client;
useTwoEndpointStack((s) => ({ t, minio, local } = s));

describe('listings over 1,000 keys', () => {
  it.each(['coordinator', 'auto'] as const)(
    'are paged (--list-mode %s): every key copied once',
    async (listMode) => {
      const bucket = `pages-${listMode}`;
      await putObjects(
        minio,
        bucket,
        Array.from({ length: KEYS }, (_, i) => ({
          key: `k/${String(i).padStart(5, '0')}`,
          size: 8,
          contentType: 'text/plain',
        })),
      );
      const pages = { list: 0, overCap: 0 };
      const proxy = await startS3Proxy(t.stack.remotes.minio!.endpoint, {
        before: (req) => {
          const url = new URL(req.url ?? '/', 'http://x');
          if (req.method !== 'GET' || url.searchParams.get('list-type') !== '2') return;
          pages.list++;
          const asked = Number(url.searchParams.get('max-keys') ?? 1000);
          if (asked > 1000) pages.overCap++;
          url.searchParams.set('max-keys', String(Math.min(asked, 1000)));
          req.url = url.pathname + url.search;
        },
      });
      const env = await freshEnv(t.stack, { remotes: { paged: { ...t.stack.remotes.minio!, endpoint: proxy.url } } });
      const runId = `pages-${listMode}`;
      await planRun(env.ctx, {
        kind: 's3-sync',
        runId,
        spec: {
          ...specFromCli({ from: `paged:${bucket}`, to: `local:${bucket}-dst`, createBuckets: true }),
          listMode,
          rangeMaxKeys: 5_000,
        },
      });
      const s = await workUntilDone(env, runId, { concurrency: 4, transfers: 32 });
      expect(s.counts.failed).toBe(0);
      expect(s.counters.objects).toBe(KEYS);
      expect((await listKeys(local, `${bucket}-dst`)).size).toBe(KEYS);
      // planning and the range item each list 2,050 keys: at least 3 pages each
      expect(pages.list).toBeGreaterThanOrEqual(6);
      expect(pages.overCap).toBe(0);
      env.close();
      await proxy.close();
    },
    180_000,
  );
});
