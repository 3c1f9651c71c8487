/**
 * `npm run bench:pipe-floor`: what streaming a large object GET -> PUT through a Node.js process
 * costs that process, with nothing else in it: issue #12's "measurement of the limit" for
 * bench:s3 case (b) (200 x 8 MiB between two endpoints), where convoy spends ~3x rclone's CPU
 * per object and the two cores it shares with the endpoints cap its rate.
 *
 * Against the emulators of `convoy local up --extra-s3 minio` (their own process), N objects of
 * 8 MiB are copied from "minio" to "local", 8 at a time, twice in this process, alternated:
 *   - `worker path`: the s3-sync worker's own data path (S3ObjectClient.get piped into .put,
 *     as copier.ts does for a single PUT), without the engine, state, listing or checks;
 *   - `bare node:http`: http.request GET piped into http.request PUT, SigV4-signed headers and
 *     nothing else: the least a Node process can do to move the bytes.
 * It prints user and system CPU per object and per MiB and the body chunks per object. The
 * bench:s3 (b) figures of rclone (the whole process) are the comparison: if the bare pipe already
 * costs a multiple of them, no convoy design on node:http reaches rclone's CPU per object.
 *
 * Options: --objects N (default 40), --rounds R (default 3).
 */
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { RemoteConfig } from '../../shared/config.js';
import { SigV4Signer } from '../../shared/sigv4.js';
import { S3ObjectClient } from '../../worker/jobs/s3-sync/object-client.js';
import { startBenchStack } from './lib/stack.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const SIZE = 8 * 1024 * 1024;
const IN_FLIGHT = 8;
const SRC_BUCKET = 'floor-src';
const DST_BUCKET = 'floor-dst';

const { values } = parseArgs({
  options: { objects: { type: 'string', default: '40' }, rounds: { type: 'string', default: '3' } },
});
const N = Number(values.objects);
const ROUNDS = Number(values.rounds);
if (!Number.isInteger(N) || N < 1 || !Number.isInteger(ROUNDS) || ROUNDS < 1) {
  process.stderr.write('bench:pipe-floor: --objects and --rounds take whole numbers >= 1\n');
  process.exit(2);
}

type Copy = (key: string, onChunk: (bytes: number) => void) => Promise<void>;

/** The worker's data path: S3ObjectClient GET streamed into its PUT. */
function workerPath(src: RemoteConfig, dst: RemoteConfig): Copy {
  const from = new S3ObjectClient(src);
  const to = new S3ObjectClient(dst);
  return async (key, onChunk) => {
    const got = await from.get(SRC_BUCKET, key, {});
    got.body.on('data', (c: Buffer) => onChunk(c.length));
    await to.put(DST_BUCKET, key, got.body, { contentLength: got.contentLength });
  };
}

/** node:http and a signature, nothing else. */
function bareHttp(src: RemoteConfig, dst: RemoteConfig): Copy {
  const signer = new SigV4Signer({
    service: 's3',
    region: src.region,
    credentials: { accessKeyId: src.accessKeyId!, secretAccessKey: src.secretAccessKey! },
  });
  const agent = new http.Agent({ keepAlive: true, maxSockets: IN_FLIGHT });
  const signedRequest = async (method: 'GET' | 'PUT', endpoint: string, p: string, headers: Record<string, string>) => {
    const u = new URL(endpoint);
    const creds = signer.credentialsNow() ?? (await signer.credentials());
    const signed = signer.sign(
      { method, host: u.host, path: p, headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', ...headers } },
      creds,
    );
    return { u, signed };
  };
  return async (key, onChunk) => {
    const g = await signedRequest('GET', src.endpoint!, `/${SRC_BUCKET}/${key}`, {});
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = http.request(
        { host: g.u.hostname, port: g.u.port, path: `/${SRC_BUCKET}/${key}`, headers: g.signed, agent },
        resolve,
      );
      req.on('error', reject);
      req.end();
    });
    if (res.statusCode !== 200) throw new Error(`GET ${key}: HTTP ${res.statusCode}`);
    res.on('data', (c: Buffer) => onChunk(c.length));
    const length = res.headers['content-length'] ?? '0';
    const p = await signedRequest('PUT', dst.endpoint!, `/${DST_BUCKET}/${key}`, { 'content-length': length });
    await new Promise<void>((resolve, reject) => {
      const req = http.request(
        { host: p.u.hostname, port: p.u.port, method: 'PUT', path: `/${DST_BUCKET}/${key}`, headers: p.signed, agent },
        (put) => {
          put.resume();
          put.on('end', () =>
            put.statusCode === 200 ? resolve() : reject(new Error(`PUT ${key}: ${put.statusCode}`)),
          );
        },
      );
      req.on('error', reject);
      res.pipe(req);
    });
  };
}

async function measure(copy: Copy): Promise<{ userMs: number; sysMs: number; chunks: number; seconds: number }> {
  let chunks = 0;
  const onChunk = () => void chunks++;
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i += IN_FLIGHT) {
    const batch = [];
    for (let j = i; j < Math.min(N, i + IN_FLIGHT); j++) batch.push(copy(`k${j}`, onChunk));
    await Promise.all(batch);
  }
  const cpu = process.cpuUsage(cpu0);
  return {
    userMs: cpu.user / 1000 / N,
    sysMs: cpu.system / 1000 / N,
    chunks: chunks / N,
    seconds: Number(process.hrtime.bigint() - t0) / 1e9,
  };
}

async function main(): Promise<void> {
  const load = loadavg();
  const say = (s: string) => process.stdout.write(`${s}\n`);
  say(
    `bench:pipe-floor: ${N} x 8 MiB GET -> PUT, ${IN_FLIGHT} in flight, ${ROUNDS} rounds; ${cpus().length} cores (${cpus()[0]?.model.trim()}), Node ${process.version}, load ${load.map((l) => l.toFixed(2)).join(' ')}`,
  );
  const work = mkdtempSync(path.join(tmpdir(), 'convoy-pipe-floor-'));
  const stack = await startBenchStack(path.join(work, 'state'), ['minio'], { cwd: work });
  try {
    const src: RemoteConfig = { name: 'minio', ...stack.stack.remotes.minio! };
    const dst: RemoteConfig = { name: 'local', ...stack.stack.remotes.local! };
    const sdk = (r: RemoteConfig) =>
      new S3Client({
        endpoint: r.endpoint,
        region: r.region,
        forcePathStyle: true,
        credentials: { accessKeyId: r.accessKeyId!, secretAccessKey: r.secretAccessKey! },
      });
    const srcSdk = sdk(src);
    await srcSdk.send(new CreateBucketCommand({ Bucket: SRC_BUCKET }));
    await sdk(dst).send(new CreateBucketCommand({ Bucket: DST_BUCKET }));
    const body = Buffer.alloc(SIZE);
    for (let i = 0; i < N; i++) {
      body.writeUInt32BE(i, 0);
      await srcSdk.send(new PutObjectCommand({ Bucket: SRC_BUCKET, Key: `k${i}`, Body: body }));
    }
    const modes: Array<[string, Copy]> = [
      ['worker path', workerPath(src, dst)],
      ['bare node:http', bareHttp(src, dst)],
    ];
    // one unmeasured pass of each: the emulator's and this process's code paths compiled
    for (const [, copy] of modes) await measure(copy);
    const runs = new Map<string, Array<Awaited<ReturnType<typeof measure>>>>();
    for (let r = 0; r < ROUNDS; r++)
      for (const [name, copy] of r % 2 ? [...modes].reverse() : modes) {
        const m = await measure(copy);
        runs.set(name, [...(runs.get(name) ?? []), m]);
      }
    for (const [name, list] of runs) {
      const cpu = list.map((m) => m.userMs + m.sysMs);
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      say(
        `  ${name.padEnd(15)} CPU ${mean(cpu).toFixed(1)} ms/object (${Math.min(...cpu).toFixed(1)}-${Math.max(...cpu).toFixed(1)}; user ${mean(list.map((m) => m.userMs)).toFixed(1)}, sys ${mean(list.map((m) => m.sysMs)).toFixed(1)}), ${(mean(cpu) / 8).toFixed(2)} ms/MiB, ${mean(list.map((m) => m.chunks)).toFixed(0)} body chunks/object, ${mean(list.map((m) => (N * 8) / m.seconds)).toFixed(0)} MiB/s`,
      );
    }
    say('  compare: rclone in bench:s3 case (b) (test/bench/results/s3.json), whole process, CPU ms per 8 MiB object');
  } finally {
    await stack.down();
    rmSync(work, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench:pipe-floor failed: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  },
);
