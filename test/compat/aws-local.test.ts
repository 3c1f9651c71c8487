/**
 * The aws-local backend itself: DynamoDB Local and radosgw listen on loopback only, radosgw
 * tenants keep S3 identities apart like AWS accounts, and `convoy local up --backend aws-local`
 * starts, reports and stops them (bad --backend input: exit 2, nothing started or written).
 * Runs in `npm run test:compat` (it needs Java and Ceph), on the run's shared servers.
 */
import { existsSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { networkInterfaces } from 'node:os';
import path from 'node:path';
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, ListBucketsCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createRadosgwUser } from '../../infra/local/aws-local/radosgw.js';
import { docCommand } from '../docs/doc-commands.js';
import { DocShell } from '../docs/doc-shell.js';
import { ddbClient } from '../tables/helpers.js';
import { startTestStack } from '../helpers/stack.js';

/** Whether a TCP connection to host:port is accepted. */
function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const answer = (accepted: boolean) => {
      socket.destroy();
      resolve(accepted);
    };
    socket.setTimeout(3_000, () => answer(false));
    socket.once('connect', () => answer(true));
    socket.once('error', () => answer(false));
  });
}

/** This machine's own non-loopback IPv4 addresses (a server bound to 0.0.0.0 answers on them). */
function outsideAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flat()
    .filter((a) => a && a.family === 'IPv4' && !a.internal)
    .map((a) => a!.address);
}

const servers = inject('awsLocal');

describe('aws-local servers', () => {
  it('DynamoDB Local and radosgw answer on 127.0.0.1 and on no other address of this machine', async () => {
    expect(servers, 'run with `npm run test:compat` (its setup starts the servers)').toBeDefined();
    const ports = [Number(new URL(servers!.dynamodb).port), Number(new URL(servers!.s3).port)];
    // the monitor's port too: ceph.conf names it
    const mon = /mon host = v1:127\.0\.0\.1:(\d+)/.exec(readFileSync(servers!.cephConf, 'utf8'));
    ports.push(Number(mon![1]));
    for (const port of ports) expect(await accepts('127.0.0.1', port), `127.0.0.1:${port}`).toBe(true);
    const outside = outsideAddresses();
    for (const address of outside)
      for (const port of ports) expect(await accepts(address, port), `${address}:${port}`).toBe(false);
  });

  it('each radosgw identity has its own bucket names, as two AWS accounts do', async () => {
    const [a, b] = await Promise.all([
      createRadosgwUser(servers!.cephConf, 'a'),
      createRadosgwUser(servers!.cephConf, 'b'),
    ]);
    const client = (u: typeof a) =>
      new S3Client({ region: 'us-east-1', endpoint: servers!.s3, forcePathStyle: true, credentials: u });
    await client(a).send(new CreateBucketCommand({ Bucket: 'same-name' }));
    await client(b).send(new CreateBucketCommand({ Bucket: 'same-name' }));
    await client(a).send(new PutObjectCommand({ Bucket: 'same-name', Key: 'only-in-a', Body: 'x' }));
    expect((await client(a).send(new ListBucketsCommand({}))).Buckets?.map((x) => x.Name)).toEqual(['same-name']);
    expect((await client(b).send(new ListBucketsCommand({}))).Buckets?.map((x) => x.Name)).toEqual(['same-name']);
  });

  it('a test stack on them: convoy tables on DynamoDB Local, remotes on radosgw with their own identities', async () => {
    const t = await startTestStack({ extraS3: ['minio'] });
    try {
      expect(t.stack.backend).toBe('aws-local');
      expect(t.stack.endpoints.dynamodb).toBe(servers!.dynamodb);
      expect(t.stack.remotes.local!.endpoint).toBe(servers!.s3);
      expect(t.stack.remotes.minio!.accessKeyId).not.toBe(t.stack.remotes.local!.accessKeyId);
      const ddb = ddbClient(t.stack);
      const tables = (await ddb.send(new ListTablesCommand({}))).TableNames ?? [];
      ddb.destroy();
      expect(tables).toEqual(expect.arrayContaining([t.stack.state.itemsTable, t.stack.state.metaTable]));
    } finally {
      await t.close();
    }
  });
});

describe('convoy local up --backend aws-local (docs/compat.md)', () => {
  const shell = new DocShell();
  afterAll(() => shell.close());
  const run = async (text: string) => {
    const r = await shell.run(text, { timeoutMs: 120_000 });
    return { ...r, text };
  };

  it('refuses an unknown --backend: exit 2 naming the flag, nothing started or written', async () => {
    const bad = await run('convoy local up --backend moto');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--backend "moto" is not a backend: use one of embedded, aws-local');
    expect(existsSync(path.join(shell.stateDir, 'stack.json'))).toBe(false);
  });

  it('starts DynamoDB Local and radosgw, status shows them, another backend is refused, down stops them', async () => {
    const up = await run(docCommand('docs/compat.md', 'npx convoy local up --backend aws-local --extra-s3 minio'));
    expect(up.stderr).toBe('');
    expect(up.code).toBe(0);
    expect(up.stdout).toContain('backend aws-local');
    const stack = shell.stackFile() as ReturnType<DocShell['stackFile']> & { backend?: string };
    expect(stack.backend).toBe('aws-local');
    // DynamoDB Local keeps its files in a folder of its own in the state dir
    expect(existsSync(path.join(shell.stateDir, 'dynamodb-local'))).toBe(true);
    const ddbPort = Number(new URL(stack.endpoints.dynamodb!).port);
    const s3Port = Number(new URL(stack.endpoints.s3!).port);
    expect(s3Port).not.toBe(Number(new URL(stack.endpoints.sqs!).port));
    // the extra remote: the same radosgw, another identity (tenant)
    expect(stack.endpoints['s3:minio']).toBe(stack.endpoints.s3);
    expect(stack.remotes.minio!.accessKeyId).not.toBe(stack.remotes.local!.accessKeyId);

    const status = await run(docCommand('docs/compat.md', 'npx convoy local status'));
    expect(status.code).toBe(0);
    expect(status.stdout).toContain('backend aws-local');
    expect(status.stdout).toContain(stack.endpoints.dynamodb);

    const other = await run('convoy local up --backend embedded');
    expect(other.code).toBe(2);
    expect(other.stderr).toContain('already running with --backend aws-local');

    const down = await run(docCommand('docs/compat.md', 'npx convoy local down'));
    expect(down.stdout).toContain('local stack stopped');
    // the daemon's servers went with it
    expect(await accepts('127.0.0.1', ddbPort)).toBe(false);
    expect(await accepts('127.0.0.1', s3Port)).toBe(false);
    expect((await run('convoy local status')).code).toBe(3);
  }, 180_000);
});
