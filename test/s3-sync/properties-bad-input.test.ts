/**
 * Bad object-property options of `convoy plan s3-sync` (--tags, --storage-class, --sse,
 * --sse-kms-key-id, --acl) through the real CLI: exit 2, one line naming the flag, what is wrong
 * and what would do, and nothing written (no run row, no message, no destination bucket even with
 * --create-buckets). Refused before any backend call, so the embedded stack is enough.
 */
import { HeadBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeS3Client } from '../../shared/s3-clients.js';
import { listRuns } from '../../state/runs.js';
import { putObjects } from '../fixtures/s3-data.js';
import { runCli, writeCliConfig } from '../helpers/cli.js';
import { freshEnv, startTestStack, type TestEnv, type TestStack } from '../helpers/stack.js';

let t: TestStack;
let env: TestEnv;
let config: string;
let local: S3Client;

beforeAll(async () => {
  t = await startTestStack({ extraS3: ['minio'] });
  const minio: S3Client = makeS3Client({ ...t.stack.remotes.minio!, name: 'minio' });
  await putObjects(minio, 'present', [{ key: 'a.txt', size: 10, contentType: 'text/plain' }]);
  minio.destroy();
  local = makeS3Client({ ...t.stack.remotes.local!, name: 'local' });
  env = await freshEnv(t.stack);
  config = writeCliConfig(env);
});
afterAll(async () => {
  local?.destroy();
  env?.close();
  await t?.close();
});

const sync = ['--from', 'minio:present', '--to', 'local:props-never', '--create-buckets'];

describe('s3-sync object properties: bad input', () => {
  const cases: Array<[string, string[], RegExp]> = [
    [
      'unknown storage class',
      ['--storage-class', 'FROZEN'],
      /^convoy: --storage-class: "FROZEN" is not a storage class .*use one of: STANDARD, REDUCED_REDUNDANCY, STANDARD_IA, ONEZONE_IA, INTELLIGENT_TIERING, GLACIER, DEEP_ARCHIVE, GLACIER_IR, .*keep$/m,
    ],
    ['lower-case storage class', ['--storage-class', 'standard_ia'], /--storage-class: "standard_ia" is not/],
    ['unknown tag mode', ['--tags', 'all'], /--tags: "all" is not a tag mode; use one of: copy, none/],
    [
      'unknown encryption',
      ['--sse', 'AES128'],
      /--sse: "AES128" is not a server-side encryption; use one of: AES256, aws:kms/,
    ],
    [
      'a KMS key without --sse aws:kms',
      ['--sse-kms-key-id', 'alias/archive'],
      /--sse-kms-key-id needs --sse aws:kms .*add --sse aws:kms or drop the key/,
    ],
    [
      'a KMS key with --sse AES256',
      ['--sse', 'AES256', '--sse-kms-key-id', 'alias/archive'],
      /--sse-kms-key-id needs --sse aws:kms/,
    ],
    [
      'a KMS key id that is not one',
      ['--sse', 'aws:kms', '--sse-kms-key-id', 'my key'],
      /--sse-kms-key-id: "my key" is not a KMS key id, key ARN, alias name or alias ARN; e\.g\./,
    ],
    [
      'a key ARN of another service',
      [
        '--sse',
        'aws:kms',
        '--sse-kms-key-id',
        'arn:aws:s3:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab',
      ],
      /--sse-kms-key-id: "arn:aws:s3:.*" is not a KMS key id/,
    ],
    [
      'unknown canned ACL',
      ['--acl', 'everyone'],
      /--acl: "everyone" is not a canned ACL; use one of: private, .*bucket-owner-full-control/,
    ],
  ];
  for (const [name, args, message] of cases) {
    it(`${name}: exit 2, one line naming the flag, nothing written`, async () => {
      const r = await runCli(['plan', 's3-sync', ...sync, ...args], { config });
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(await listRuns(env.ctx.meta)).toEqual([]);
      const depth = await env.ctx.queue.depth();
      expect(depth.visible + depth.inFlight + depth.delayed).toBe(0);
      // --create-buckets did not run: the inputs were refused first
      await expect(local.send(new HeadBucketCommand({ Bucket: 'props-never' }))).rejects.toThrow();
    });
  }

  it('the key forms AWS takes are accepted (a dry run: no run row)', async () => {
    for (const key of [
      '1234abcd-12ab-34cd-56ef-1234567890ab',
      'mrk-1234abcd12ab34cd56ef1234567890ab',
      'alias/archive-key',
      'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab',
      'arn:aws-us-gov:kms:us-gov-west-1:111122223333:alias/archive',
    ]) {
      const r = await runCli(['plan', 's3-sync', ...sync, '--dry-run', '--sse', 'aws:kms', '--sse-kms-key-id', key], {
        config,
      });
      expect(r.code, `${key}: ${r.stderr}`).toBe(0);
    }
    expect(await listRuns(env.ctx.meta)).toEqual([]);
  });
});
