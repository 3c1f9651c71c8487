/**
 * Filters through the real CLI: a pathological --exclude plans and copies promptly (it used to
 * pin a worker at 100% CPU for minutes), and a pattern that can never match is bad input before
 * any run exists.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { putObjects } from '../fixtures/s3-data.js';
import { runCli, writeCliConfig } from '../helpers/cli.js';
import { listKeys, useTwoEndpointStack } from '../helpers/s3.js';
import { freshEnv, type TestStack } from '../helpers/stack.js';
import { cliFleet } from './cli-run.js';

let t: TestStack;
let minio: S3Client;
let local: S3Client;
useTwoEndpointStack((s) => ({ t, minio, local } = s));

describe('s3-sync filters through the CLI', () => {
  it('--exclude "**********************a" plans and copies a bucket in bounded time, with aws-cli semantics', async () => {
    // 14+ character keys at the top level (filtered by the planner) and below (by the workers)
    const keys = [
      'bbbbbbbbbbbbbb',
      'bbbbbbbbbbbbba',
      'cccccccccccccccccc.txt',
      ...Array.from({ length: 20 }, (_, i) => `dir/sub/bbbbbbbbbbbbbbbbbbbb-${i}${i % 2 ? 'a' : 'b'}`),
    ];
    await putObjects(
      minio,
      'glob-src',
      keys.map((key) => ({ key, size: 100, contentType: 'application/octet-stream' })),
    );
    const env = await freshEnv(t.stack);
    const config = writeCliConfig(env);
    const fleet = cliFleet(env, config);
    // bounded: the old matcher never finished planning this (the CLI's own timeout is 60 s)
    const s = await fleet.run(
      'glob',
      [
        '--from',
        'minio:glob-src',
        '--to',
        'local:glob-dst',
        '--create-buckets',
        '--exclude',
        '**********************a',
        '--range-keys',
        '5',
      ],
      { timeoutMs: 60_000 },
    );
    await fleet.stop();
    expect(s.failuresByClass).toEqual({});
    expect([...(await listKeys(local, 'glob-dst')).keys()].sort()).toEqual(keys.filter((k) => !k.endsWith('a')).sort());
    env.close();
  }, 150_000);

  it('--exclude "[z-a]": exit 2 naming the pattern and the fix, and convoy status shows no run', async () => {
    await putObjects(minio, 'glob-src2', [{ key: 'a.txt', size: 10, contentType: 'text/plain' }]);
    const env = await freshEnv(t.stack);
    const config = writeCliConfig(env);
    const r = await runCli(
      [
        'plan',
        's3-sync',
        '--from',
        'minio:glob-src2',
        '--to',
        'local:never-created',
        '--create-buckets',
        '--exclude',
        '*.tmp',
        '[z-a]',
      ],
      { config },
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /--exclude "\[z-a\]": the range z-a in \[\.\.\.\] is reversed, so it can never match; write it low to high \(e\.g\. \[a-z\]\)/,
    );
    expect(r.stderr).not.toMatch(/\n\s+at /);
    const status = await runCli(['status', '--json'], { config });
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toEqual([]);
    // nothing written: not even the destination bucket --create-buckets would have made
    await expect(listKeys(local, 'never-created')).rejects.toThrow();
    env.close();
  }, 30_000);
});
