/**
 * The IAM action catalogue stays true to the code: every AWS SDK command convoy's source sends
 * is known (with its exact IAM actions), and the granted list is exactly what is sent today.
 * Also: the config snippet the stack writes is a valid convoy.config.json, and bad CDK context
 * is an InputError naming the key.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { convoyConfigFor } from '../../infra/cdk/config-snippet.js';
import { parseFleetProps } from '../../infra/cdk/fleet-props.js';
import {
  actionsFor,
  COMMAND_PERMISSIONS,
  commandsInSource,
  s3ActionsFor,
  USED_COMMANDS,
} from '../../infra/cdk/iam-actions.js';
import { contextFromArgv } from '../../infra/cdk/app.js';
import { configFileSchema } from '../../shared/config.js';
import { InputError } from '../../shared/errors.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const SOURCE_DIRS = ['coordinator', 'worker', 'monitor', 'shared', 'state', 'infra/local'];

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) out.push(...tsFiles(full));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(full);
  }
  return out;
}

/** Comments may mention commands (`new XxxCommand(`) without sending them. */
function stripComments(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
}

function commandsInCode(): Map<string, string[]> {
  const where = new Map<string, string[]>();
  for (const dir of SOURCE_DIRS) {
    for (const file of tsFiles(path.join(ROOT, dir))) {
      for (const c of commandsInSource(stripComments(readFileSync(file, 'utf8')))) {
        where.set(c, [...(where.get(c) ?? []), path.relative(ROOT, file)]);
      }
    }
  }
  return where;
}

describe('IAM actions from the code', () => {
  it('finds commands in source text', () => {
    expect(commandsInSource('await s.send(new GetObjectCommand({ Bucket }));\nnew  QueryCommand ({})').sort()).toEqual([
      'GetObject',
      'Query',
    ]);
    expect(commandsInSource("import { Upload } from '@aws-sdk/lib-storage';\nconst u = new Upload({})")).toEqual([
      'lib-storage:Upload',
    ]);
    expect(commandsInSource('const x = new Upload({})')).toEqual([]);
  });

  it('every command the code sends is in the catalogue, and USED_COMMANDS is exactly that set', () => {
    const found = commandsInCode();
    const unknown = [...found.keys()].filter((c) => !Object.keys(COMMAND_PERMISSIONS).includes(c));
    expect(
      unknown,
      `add these to infra/cdk/iam-actions.ts COMMAND_PERMISSIONS (used in ${unknown.map((c) => found.get(c)).join('; ')})`,
    ).toEqual([]);
    const missing = [...found.keys()].filter((c) => !USED_COMMANDS.includes(c));
    expect(missing, 'add these to USED_COMMANDS in infra/cdk/iam-actions.ts').toEqual([]);
    const stale = USED_COMMANDS.filter((c) => !found.has(c));
    expect(stale, 'no longer sent by the code: drop them from USED_COMMANDS').toEqual([]);
  });

  it('grants are named actions, split by resource form', () => {
    for (const grant of [
      'itemsTable',
      'itemsIndex',
      'metaTable',
      'queues',
      'readBuckets',
      'writeBuckets',
      'readTables',
      'writeTables',
    ] as const) {
      for (const a of actionsFor(grant)) expect(a).toMatch(/^(dynamodb|sqs|s3):[A-Za-z]+$/);
    }
    expect(actionsFor('itemsIndex')).toEqual(['dynamodb:Query']);
    expect(actionsFor('localOnly')).toContain('dynamodb:CreateTable');
    expect(actionsFor('itemsTable')).not.toContain('dynamodb:CreateTable');
    // ListBucketVersions / GetObjectVersion / DeleteObjectVersion: s3-sync --all-versions
    expect(s3ActionsFor('readBuckets')).toEqual({
      bucket: ['s3:ListBucket', 's3:ListBucketVersions'],
      objects: ['s3:GetObject', 's3:GetObjectTagging', 's3:GetObjectVersion'],
    });
    expect(s3ActionsFor('writeBuckets').objects).toEqual([
      's3:AbortMultipartUpload',
      's3:DeleteObject',
      's3:DeleteObjectVersion',
      's3:GetObject',
      's3:GetObjectTagging',
      's3:GetObjectVersion',
      's3:PutObject',
      's3:PutObjectAcl',
      's3:PutObjectTagging',
    ]);
    // bucket versioning is checked and set by the operator's plan (preflight), never by workers
    expect(actionsFor('operatorOnly')).toEqual(
      expect.arrayContaining(['s3:GetBucketVersioning', 's3:PutBucketVersioning']),
    );
    expect(actionsFor('writeBuckets')).not.toContain('s3:PutBucketVersioning');
    // SSE-KMS objects (s3-sync --sse aws:kms): a data key to write, decryption to read
    expect(actionsFor('kmsKeys')).toEqual(['kms:Decrypt', 'kms:GenerateDataKey']);
    // nothing granted for commands the code does not send
    expect(actionsFor('writeBuckets', ['GetObject'])).toEqual(['s3:GetObject']);
  });
});

describe('fleet context and config', () => {
  it('the config snippet is a valid convoy.config.json', () => {
    const file = convoyConfigFor({
      region: 'eu-west-1',
      itemsTable: 'convoy-items',
      metaTable: 'convoy-meta',
      queueName: 'convoy-work',
      dlqName: 'convoy-work-dlq',
      queueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/convoy-work',
      dlqUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/convoy-work-dlq',
    });
    const parsed = configFileSchema.parse(file);
    expect(parsed.state?.queueUrl).toBe('https://sqs.eu-west-1.amazonaws.com/123456789012/convoy-work');
    expect(parsed.remotes.aws).toMatchObject({ region: 'eu-west-1' });
  });

  it('parses context lists and defaults', () => {
    const p = parseFleetProps({ readBuckets: 'a-bucket, b-bucket', writeBuckets: '["c-bucket"]', maxInstances: '4' });
    expect(p.readBuckets).toEqual(['a-bucket', 'b-bucket']);
    expect(p.writeBuckets).toEqual(['c-bucket']);
    expect(p.maxInstances).toBe(4);
    expect(p.itemsTable).toBe('convoy-items');
    expect(contextFromArgv(['-c', 'a=1', '--context', 'b=x=y', '--context=c=3'])).toEqual({ a: '1', b: 'x=y', c: '3' });
  });

  it.each([
    [{ maxInstances: '2', minInstances: '3' }, 'maxInstances'],
    [{ readBuckets: 'Not_A_Bucket' }, 'readBuckets'],
    [{ instanceFilesSource: 'http://x' }, 'instanceFilesSource'],
    [{ vpcId: 'vpc-0abc' }, 'subnetIds'],
    [{ unknownKey: 1 }, 'unknownKey'],
  ])('bad context %j is an InputError naming %s', (input, key) => {
    let err: unknown;
    try {
      parseFleetProps(input);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toContain(key);
  });

  it('-c without = is an InputError', () => {
    expect(() => contextFromArgv(['-c', 'novalue'])).toThrow(InputError);
  });
});
