/**
 * Bad input through the real CLI: a clear message naming the input and the fix, exit code 2, and
 * nothing written (no run row, no message).
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeS3Client } from '../../shared/s3-clients.js';
import { listRuns } from '../../state/runs.js';
import { putObjects } from '../fixtures/s3-data.js';
import { runCli, writeCliConfig } from '../helpers/cli.js';
import { denyAccessKey, startS3Proxy } from '../helpers/s3-proxy.js';
import { freshEnv, startTestStack, type TestEnv, type TestStack } from '../helpers/stack.js';

let t: TestStack;
let env: TestEnv;
let config: string;
let proxy: Awaited<ReturnType<typeof startS3Proxy>>;

beforeAll(async () => {
  t = await startTestStack({ extraS3: ['minio'] });
  const minio: S3Client = makeS3Client({ ...t.stack.remotes.minio!, name: 'minio' });
  await putObjects(minio, 'present', [{ key: 'a.txt', size: 10, contentType: 'text/plain' }]);
  minio.destroy();
  proxy = await startS3Proxy(t.stack.remotes.minio!.endpoint, denyAccessKey('denied-key'));
  env = await freshEnv(t.stack);
  config = writeCliConfig(env, {
    down: { endpoint: 'http://127.0.0.1:1', accessKeyId: 'test', secretAccessKey: 'test' },
    locked: { endpoint: proxy.url, accessKeyId: 'denied-key', secretAccessKey: 'secret-value-never-printed' },
  });
});
afterAll(async () => {
  env?.close();
  await proxy?.close();
  await t?.close();
});

async function expectNothingWritten() {
  expect(await listRuns(env.ctx.meta)).toEqual([]);
  const depth = await env.ctx.queue.depth();
  expect(depth.visible + depth.inFlight + depth.delayed).toBe(0);
}

describe('s3-sync bad input', () => {
  const cases: Array<[string, string[], RegExp]> = [
    [
      'unknown remote',
      ['--from', 'nope:present', '--to', 'local:x-dst'],
      /unknown remote "nope"; known remotes: .*local.*minio/,
    ],
    [
      'missing source bucket',
      ['--from', 'minio:no-such-bucket', '--to', 'local:x-dst', '--create-buckets'],
      /source bucket minio:no-such-bucket does not exist/,
    ],
    [
      'missing destination bucket',
      ['--from', 'minio:present', '--to', 'local:not-there'],
      /destination bucket local:not-there does not exist; create it or pass --create-buckets/,
    ],
    [
      'unreachable endpoint',
      ['--from', 'down:present', '--to', 'local:x-dst'],
      /cannot reach source down:present \(http:\/\/127\.0\.0\.1:1\).*Is the endpoint running/,
    ],
    [
      'access denied',
      ['--from', 'locked:present', '--to', 'local:x-dst'],
      /access denied to source locked:present .*check the credentials or profile of remote "locked"/,
    ],
    [
      'bad remote path',
      ['--from', 'minio', '--to', 'local:x-dst'],
      /--from "minio" is not of the form remote:bucket\[\/prefix\]/,
    ],
    ['{} without --buckets', ['--from', 'minio:r-{}', '--to', 'local:r-{}'], /contain \{\} but no --buckets/],
    [
      'bad size',
      ['--from', 'minio:present', '--to', 'local:x-dst', '--multipart-threshold', 'huge'],
      /--multipart-threshold: "huge" is not a size/,
    ],
    [
      'bad --bwlimit',
      ['--from', 'minio:present', '--to', 'local:x-dst', '--bwlimit', 'fast'],
      /--bwlimit: "fast" is not a size/,
    ],
    [
      'zero --bwlimit',
      ['--from', 'minio:present', '--to', 'local:x-dst', '--bwlimit', '0'],
      /--bwlimit: "0" is no rate; give bytes per second/,
    ],
    [
      'bad --tpslimit',
      ['--from', 'minio:present', '--to', 'local:x-dst', '--tpslimit', '-3'],
      /--tpslimit: "-3" is not a positive number of objects per second/,
    ],
    [
      'zero --range-keys',
      ['--from', 'minio:present', '--to', 'local:x-dst', '--range-keys', '0'],
      /--range-keys must be 1 or more, got "0"/,
    ],
    [
      'zero --parts-per-item',
      ['--from', 'minio:present', '--to', 'local:x-dst', '--parts-per-item', '0'],
      /--parts-per-item: 0 is not a positive number of parts/,
    ],
    [
      'bad --copy-max-size',
      ['--from', 'minio:present', '--to', 'local:x-dst', '--copy-max-size', 'big'],
      /--copy-max-size: "big" is not a size/,
    ],
    [
      'zero --copy-max-size',
      ['--from', 'minio:present', '--to', 'local:x-dst', '--copy-max-size', '0'],
      /--copy-max-size: "0" is no size/,
    ],
  ];
  for (const [name, args, message] of cases) {
    it(`${name}: exit 2, a message naming the input, nothing enqueued`, async () => {
      const r = await runCli(['plan', 's3-sync', ...args], { config });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toContain('secret-value-never-printed');
      expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
      await expectNothingWritten();
    });
  }

  it('malformed config files: exit 2 naming the file and the problem', async () => {
    const dir = path.dirname(config);
    const broken = path.join(dir, 'broken.json');
    writeFileSync(broken, '{ "remotes": { ');
    let r = await runCli(['plan', 's3-sync', '--from', 'minio:present', '--to', 'local:x'], { config: broken });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`config file ${broken} is not valid JSON`);
    const wrong = path.join(dir, 'wrong.json');
    writeFileSync(wrong, JSON.stringify({ remotes: { minio: { endpoint: 'not a url' } }, extra: 1 }));
    r = await runCli(['status'], { config: wrong });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/config file .*wrong\.json is invalid/);
    expect(r.stderr).toMatch(/remotes\.minio\.endpoint/);
    expect(r.stderr).toMatch(/extra/);
    r = await runCli(['status'], { config: path.join(dir, 'missing.json') });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/config file .*missing\.json does not exist/);
    await expectNothingWritten();
  });
});
