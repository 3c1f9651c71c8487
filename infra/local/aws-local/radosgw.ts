/**
 * Ceph's RADOS Gateway (radosgw), a second, independent S3 implementation for the `aws-local`
 * backend: one monitor, one OSD on `memstore` (objects in RAM, nothing on disk) and the gateway,
 * every daemon on 127.0.0.1 and in the foreground as a child of this process. From Debian:
 * `apt-get install -y ceph-mon ceph-osd radosgw` (Ceph 16). It starts in ~12 s, so tests share
 * one per run and keep apart by tenant: every `createUser` gets its own tenant, whose bucket
 * names are its own, the way two AWS accounts (or two S3 servers) do not see each other's.
 *
 * Why radosgw: it is the S3 of many production object stores, enforces AWS's bucket-name rules,
 * honours EncodingType=url, If-None-Match, UploadPartCopy and REPLACE metadata directives, and
 * nothing else that implements S3 installs here (see docs/compat.md).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { killOnExit } from './children.js';

const run = promisify(execFile);

export const CEPH_PACKAGES = 'ceph-mon ceph-osd radosgw';

export interface RadosgwOptions {
  /** where the cluster's config, logs and sockets go (a fresh temporary folder when absent; removed on close) */
  dir?: string;
  /** the gateway's port; 0 = any free port */
  port?: number;
}

export interface S3User {
  accessKeyId: string;
  secretAccessKey: string;
  tenant: string;
}

export interface Radosgw {
  url: string;
  /** the cluster's ceph.conf: another process can create users with `createRadosgwUser` */
  confPath: string;
  close(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * The KMS keys the gateway's "testing" KMS backend knows (SSE-KMS: `--sse aws:kms --sse-kms-key-id`).
 * Ids shaped like AWS key ids, so convoy's validation accepts them; secrets fixed, test-only.
 */
export const TEST_KMS_KEYS = [
  { id: '0f8c7a52-3c1e-4d6b-9a77-5e2f1b3c4d5e', secret: Buffer.alloc(32, 7).toString('base64') },
  // docs/s3-properties.md's example names its key by alias
  { id: 'alias/rideshare-archive', secret: Buffer.alloc(32, 9).toString('base64') },
] as const;

/**
 * Storage classes added to the default placement besides STANDARD (radosgw refuses a class its
 * zonegroup placement does not list): what `--storage-class` tests write.
 */
export const RADOSGW_STORAGE_CLASSES = ['STANDARD_IA', 'GLACIER_IR'] as const;

function conf(dir: string, monPort: number, rgwPort: number): string {
  return `[global]
fsid = ${randomUUID()}
mon host = v1:127.0.0.1:${monPort}
public addr = 127.0.0.1
public network = 127.0.0.1/32
auth cluster required = none
auth service required = none
auth client required = none
# one OSD: every pool has one copy and few placement groups
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
mon allow pool size one = true
mon max pg per osd = 1000
mon warn on pool no redundancy = false
osd crush chooseleaf type = 0
run dir = ${dir}/run
log file = ${dir}/log/$name.log
admin socket = ${dir}/run/$name.asok
log to stderr = false
err to stderr = false
[mon]
mon data = ${dir}/mon
mon cluster log file = ${dir}/log/cluster.log
[osd]
osd data = ${dir}/osd
osd objectstore = memstore
# no monitor commands while the OSD starts: its first one can leave before it has the monitor's
# map and carry a zero fsid, which the monitor refuses ("wrong fsid"), and the OSD then exits
# (seen in a compat run beside another cluster). Its place in the CRUSH map is set beforehand.
osd class update on start = false
osd crush update on start = false
memstore device bytes = 4294967296
[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:${rgwPort}
rgw data = ${dir}/rgw
# SSE-KMS with keys from this file (the "testing" backend), over plain HTTP (loopback only)
rgw crypt s3 kms backend = testing
rgw crypt s3 kms encryption keys = ${TEST_KMS_KEYS.map((k) => `${k.id}=${k.secret}`).join(' ')}
rgw crypt require ssl = false
`;
}

async function tool(cmd: string, args: string[], timeoutMs = 60_000): Promise<string> {
  try {
    return (await run(cmd, args, { timeout: timeoutMs })).stdout;
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new Error(`${cmd} is not installed: apt-get install -y ${CEPH_PACKAGES}`);
    throw new Error(`${cmd} ${args.join(' ')} failed: ${e.stderr?.trim() || e.message}`);
  }
}

/**
 * A command the monitor answers once it has finished starting: right after `ceph-mon` is spawned
 * the first ones can fail ("Error EPERM: problem getting command descriptions from mon", seen in
 * a CI run) with nothing done, so they are tried again, up to `tries` times a second apart.
 */
async function toolOnceMonReady(cmd: string, args: string[], timeoutMs?: number, tries = 6): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await tool(cmd, args, timeoutMs);
    } catch (err) {
      if (attempt >= tries || /is not installed/.test((err as Error).message)) throw err;
      await new Promise((r) => setTimeout(r, 1_000));
    }
  }
}

export async function startRadosgw(opts: RadosgwOptions = {}): Promise<Radosgw> {
  const dir = opts.dir ?? mkdtempSync(path.join(tmpdir(), 'convoy-radosgw-'));
  const ownDir = !opts.dir;
  for (const sub of ['mon', 'osd', 'rgw', 'run', 'log']) mkdirSync(path.join(dir, sub), { recursive: true });
  const monPort = await freePort();
  const rgwPort = opts.port || (await freePort());
  const confPath = path.join(dir, 'ceph.conf');
  writeFileSync(confPath, conf(dir, monPort, rgwPort));
  const c = ['-c', confPath];
  const daemons: { child: ChildProcess; forget: () => void }[] = [];
  const daemon = (cmd: string, args: string[]) => {
    const child = spawn(cmd, [...c, '-f', ...args], { stdio: 'ignore' });
    child.once('error', () => undefined);
    daemons.push({ child, forget: killOnExit(child) });
  };
  const close = async () => {
    // memstore: nothing to flush, and an OSD asked to stop waits for a monitor that may be gone
    await Promise.all(
      daemons.reverse().map(async ({ child, forget }) => {
        forget();
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        child.kill('SIGKILL');
        await exited;
      }),
    );
    if (ownDir) rmSync(dir, { recursive: true, force: true });
  };
  try {
    const fsid = /fsid = (\S+)/.exec(readFileSync(confPath, 'utf8'))![1]!;
    const monmap = path.join(dir, 'monmap');
    await tool('monmaptool', ['--create', '--add', 'a', `v1:127.0.0.1:${monPort}`, '--fsid', fsid, monmap]);
    await tool('ceph-mon', [...c, '--mkfs', '-i', 'a', '--monmap', monmap]);
    daemon('ceph-mon', ['-i', 'a']);
    await toolOnceMonReady('ceph', [...c, '--connect-timeout', '30', 'osd', 'create']);
    // the monitor can refuse the next command the same way (seen in CI right after `osd create`);
    // adding the same item at the same place again is a no-op, so it is tried again too
    await toolOnceMonReady('ceph', [
      ...c,
      '--connect-timeout',
      '30',
      'osd',
      'crush',
      'add',
      'osd.0',
      '1',
      'root=default',
    ]);
    await tool('ceph-osd', [...c, '-i', '0', '--mkfs']);
    daemon('ceph-osd', ['-i', '0']);
    await addStorageClasses(c);
    daemon('radosgw', ['-n', 'client.rgw']);
    const url = `http://127.0.0.1:${rgwPort}`;
    await waitForGateway(
      url,
      daemons.map((d) => d.child),
    );
    return { url, confPath, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** The default zonegroup and zone, with RADOSGW_STORAGE_CLASSES in their default placement. */
async function addStorageClasses(c: string[]): Promise<void> {
  // any command that opens the store creates the default realm-less zonegroup and zone
  // (its pools are created on the fresh OSD first: slow on a loaded machine)
  await toolOnceMonReady('radosgw-admin', [...c, 'user', 'list'], 180_000, 2);
  for (const sc of RADOSGW_STORAGE_CLASSES) {
    const id = ['--placement-id', 'default-placement', '--storage-class', sc];
    await tool('radosgw-admin', [...c, 'zonegroup', 'placement', 'add', '--rgw-zonegroup', 'default', ...id]);
    const pool = `default.rgw.${sc.toLowerCase().replace(/_/g, '-')}.data`;
    await tool('radosgw-admin', [
      ...c,
      'zone',
      'placement',
      'add',
      '--rgw-zone',
      'default',
      ...id,
      '--data-pool',
      pool,
    ]);
  }
}

/** Until the gateway answers HTTP (it creates its pools first), or a daemon died. */
async function waitForGateway(url: string, children: ChildProcess[], timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const dead = children.find((ch) => ch.exitCode !== null || ch.signalCode !== null);
    if (dead) throw new Error(`${dead.spawnfile} exited (${dead.exitCode ?? dead.signalCode}) while radosgw started`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      if (res.status < 500) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`radosgw at ${url} did not answer within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * A new S3 identity in a tenant of its own (a namespace of bucket names, like an AWS account).
 * Any process can call this with the cluster's ceph.conf.
 */
export async function createRadosgwUser(confPath: string, name = 'convoy'): Promise<S3User> {
  const tenant = `t${randomBytes(6).toString('hex')}`;
  const user: S3User = {
    tenant,
    accessKeyId: `AK${randomBytes(9).toString('hex').toUpperCase()}`,
    secretAccessKey: randomBytes(24).toString('base64url'),
  };
  await tool('radosgw-admin', [
    '-c',
    confPath,
    'user',
    'create',
    '--tenant',
    tenant,
    '--uid',
    name,
    '--display-name',
    name,
    '--access-key',
    user.accessKeyId,
    '--secret',
    user.secretAccessKey,
  ]);
  return user;
}
