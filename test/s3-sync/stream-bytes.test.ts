/**
 * `convoy worker --stream-bytes` (worker/jobs/s3-sync/streamed-bytes.ts): the bytes of object
 * bodies a worker process streams GET -> PUT at once, whatever --transfers allows. The real CLI
 * (`convoy plan s3-sync`, `convoy worker` with its supervisor), six 2 MiB objects between two
 * endpoints, the destination behind a proxy that counts the large PUTs in flight and holds each
 * answer until another large PUT is in flight beside it (or 2 s, on a busy machine): copies that
 * may overlap do so there for certain.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runStatus } from '../../coordinator/status.js';
import { objectBytes, putObjects } from '../fixtures/s3-data.js';
import { exited, runCli, spawnWorker, writeCliConfig } from '../helpers/cli.js';
import { startS3Proxy } from '../helpers/s3-proxy.js';
import { getBytes, useTwoEndpointStack } from '../helpers/s3.js';
import { freshEnv, waitUntil, type TestEnv, type TestStack } from '../helpers/stack.js';

let t: TestStack;
let minio: S3Client;
let local: S3Client;
useTwoEndpointStack((s) => ({ t, minio, local } = s));

const SIZE = 2 * 1024 * 1024;
const KEYS = Array.from({ length: 6 }, (_, i) => `big/o${i}`);
const isLargePut = (req: { method?: string; headers: Record<string, unknown> }) =>
  req.method === 'PUT' && Number(req.headers['content-length'] ?? 0) > 1024 * 1024;

describe('s3-sync: convoy worker --stream-bytes', () => {
  let env: TestEnv;
  let proxy: Awaited<ReturnType<typeof startS3Proxy>>;
  const puts = { active: 0, most: 0 };
  let wakeHeld: Array<() => void> = [];
  /** run once while the first large PUT's answer is held (it is in flight for the worker) */
  let duringFirstPut: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    env = await freshEnv(t.stack);
    await putObjects(
      minio,
      'stream-src',
      KEYS.map((key) => ({ key, size: SIZE, contentType: 'application/octet-stream' })),
    );
    proxy = await startS3Proxy(t.stack.remotes.local!.endpoint, {
      before(req) {
        if (!isLargePut(req)) return;
        puts.active++;
        puts.most = Math.max(puts.most, puts.active);
        for (const wake of wakeHeld.splice(0)) wake();
      },
      async holdAnswer(req) {
        if (!isLargePut(req)) return;
        const hook = duringFirstPut;
        duringFirstPut = undefined;
        await hook?.();
        if (puts.active < 2)
          await new Promise<void>((r) => {
            wakeHeld.push(r);
            setTimeout(r, 2_000);
          });
        puts.active--;
      },
    });
  });
  afterAll(async () => {
    env?.close();
    await proxy?.close();
  });

  /**
   * Plan a copy of the six objects, work it with `workerArgs`, return the most large PUTs at once.
   * `scrape`: given the host's /metrics text while the first large PUT is in flight.
   */
  const copyWith = async (runId: string, workerArgs: string[], scrape?: (metrics: string) => void) => {
    puts.most = 0;
    wakeHeld = [];
    const config = writeCliConfig(env, { dst: { ...t.stack.remotes.local!, endpoint: proxy.url } });
    const worker = spawnWorker(
      config,
      ['--wait-seconds', '1', ...workerArgs, ...(scrape ? ['--metrics-port', '0'] : [])],
      scrape ? { CONVOY_LOG_LEVEL: 'info', CONVOY_LOG_FORMAT: 'json' } : {},
    );
    let scraped = false;
    duringFirstPut =
      scrape &&
      (async () => {
        // the host's endpoint, from its supervisor's "host supervisor started" line
        const url = /"metrics":"(http:\/\/127\.0\.0\.1:\d+)/.exec(worker.output())?.[1];
        expect(url, worker.output()).toBeTruthy();
        scrape(await (await fetch(`${url}/metrics`)).text());
        scraped = true;
      });
    try {
      const r = await runCli(
        ['plan', 's3-sync', '--run', runId, '--from', 'minio:stream-src', '--to', `dst:${runId}`, '--create-buckets'],
        { config },
      );
      expect(r.code, r.stderr).toBe(0);
      await waitUntil(async () => (await runStatus(env.ctx, runId)).run.state === 'done', {
        timeoutMs: 60_000,
        intervalMs: 200,
        what: `run ${runId} done`,
      });
    } finally {
      worker.kill('SIGTERM');
      expect(await exited(worker), worker.output()).toBe(0);
    }
    for (const key of KEYS) expect((await getBytes(local, runId, key)).equals(objectBytes(key, SIZE))).toBe(true);
    if (scrape) expect(scraped, 'the metrics were scraped while a large PUT was in flight').toBe(true);
    return puts.most;
  };

  it("3MiB: one 2 MiB object streams at a time, and the host's /metrics says so; by default (128MiB) they stream together", async () => {
    let metrics = '';
    expect(await copyWith('stream-limited', ['--stream-bytes', '3MiB'], (text) => (metrics = text))).toBe(1);
    // summed over the host's processes (one here: a 6-object run does not grow the host)
    const sum = (name: string) =>
      [...metrics.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))].reduce((a, m) => a + Number(m[1]), 0);
    expect(sum('convoy_worker_s3sync_streamed_bytes'), metrics).toBe(SIZE);
    expect(sum('convoy_worker_s3sync_streamed_bytes_limit') % (3 * 1024 * 1024), metrics).toBe(0);
    expect(sum('convoy_worker_s3sync_streamed_bytes_limit')).toBeGreaterThan(0);
    expect(sum('convoy_worker_s3sync_copies_waiting_for_stream_bytes'), metrics).toBeGreaterThanOrEqual(1);
    expect(await copyWith('stream-default', [])).toBeGreaterThanOrEqual(2);
  }, 120_000);

  it('a value that is not a size: exit 2 naming the option, before anything starts', async () => {
    const config = writeCliConfig(env);
    const r = await runCli(['worker', '--stream-bytes', 'lots', '--exit-when-idle', '100'], { config });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--stream-bytes takes a size such as 64MiB or 1GiB, got "lots"');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
