/**
 * `convoy local up` remembers `--extra-s3` across `local down` / `local up`, and when a command
 * names a remote the local stack does not serve, the error says how to get it (re-run `local up
 * --extra-s3 <name>`), not to edit a config file the local stack does not read. `local up` reuses the
 * previous ports, and when another process has taken one since, starts on free ports and says so.
 * The real CLI with its own --state-dir (a temp dir) and the daemon it starts.
 */
import { S3Client, PutObjectCommand } from '@aws-sdk/client-s3';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

const stateDir = mkdtempSync(path.join(tmpdir(), 'convoy-local-up-'));
const cli = (...args: string[]) => runCli(['--state-dir', stateDir, ...args], { env: { CONVOY_CONFIG: '' } });

afterAll(async () => {
  await cli('local', 'down');
  rmSync(stateDir, { recursive: true, force: true });
});

async function putSource(bucket: string): Promise<void> {
  const stack = JSON.parse(readFileSync(path.join(stateDir, 'stack.json'), 'utf8')) as {
    remotes: Record<string, { endpoint: string }>;
  };
  const s3 = new S3Client({
    endpoint: stack.remotes.minio!.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'a.txt', Body: 'a' })).catch(async () => {
    const { CreateBucketCommand } = await import('@aws-sdk/client-s3');
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'a.txt', Body: 'a' }));
  });
  s3.destroy();
}

describe('local up --extra-s3', () => {
  it('local up --extra-s3 minio, local down, local up: remote minio still works', async () => {
    const up = await cli('local', 'up', '--extra-s3', 'minio', '--in-memory');
    expect(up.code, up.stderr).toBe(0);
    expect((await cli('local', 'down')).code).toBe(0);

    const again = await cli('local', 'up', '--in-memory');
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/remotes\s+.*\bminio\b/);
    await putSource('lu-src');
    const plan = await cli(
      'plan',
      's3-sync',
      '--from',
      'minio:lu-src',
      '--to',
      'local:lu-dst',
      '--create-buckets',
      '--dry-run',
    );
    expect(plan.stderr).not.toMatch(/unknown remote/);
    expect(plan.code, plan.stderr).toBe(0);
  }, 150_000);

  it('the previous ports taken by another process since: local up starts on free ports and says so', async () => {
    expect((await cli('local', 'down')).code).toBe(0);
    expect((await cli('local', 'up', '--in-memory')).code).toBe(0);
    const before = JSON.parse(readFileSync(path.join(stateDir, 'ports.json'), 'utf8')) as { sqs: number };
    expect((await cli('local', 'down')).code).toBe(0);
    const squatter = createServer();
    await new Promise<void>((resolve, reject) => {
      squatter.once('error', reject);
      squatter.listen(before.sqs, '127.0.0.1', resolve);
    });
    try {
      const up = await cli('local', 'up', '--in-memory');
      expect(up.code, up.stderr).toBe(0);
      expect(up.stderr).toMatch(/the previous local up's ports are in use by another process/);
      expect(up.stderr).toContain(String(before.sqs));
      const after = JSON.parse(readFileSync(path.join(stateDir, 'ports.json'), 'utf8')) as { sqs: number };
      expect(after.sqs).not.toBe(before.sqs);
      expect((await cli('local', 'status')).code).toBe(0);
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
  }, 150_000);

  it('a remote the local stack does not serve: exit 2, and the message says to re-run local up --extra-s3', async () => {
    expect((await cli('local', 'down')).code).toBe(0);
    const up = await cli('local', 'up', '--no-extra-s3', '--in-memory');
    expect(up.code, up.stderr).toBe(0);
    expect(up.stdout).not.toMatch(/minio/);
    const plan = await cli('plan', 's3-sync', '--from', 'minio:lu-src', '--to', 'local:lu-dst', '--dry-run');
    expect(plan.code).toBe(2);
    expect(plan.stderr).toMatch(/unknown remote "minio"/);
    expect(plan.stderr).toContain('convoy local up --extra-s3 minio');
    expect(plan.stderr).not.toMatch(/\n\s+at /);

    // asking a running stack for an endpoint it lacks says to restart it, and changes nothing
    const more = await cli('local', 'up', '--extra-s3', 'minio');
    expect(more.code).toBe(2);
    expect(more.stderr).toContain('convoy local up --extra-s3 minio');
    expect((await cli('local', 'status')).stdout).not.toMatch(/minio/);

    const bad = await cli('local', 'up', '--extra-s3', 'mi nio');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--extra-s3 "mi nio" is not a usable remote name/);
  }, 150_000);
});
