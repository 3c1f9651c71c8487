/**
 * `npm run bench:uploads-floor`: what the UCAN calls of an upload alone cost the client, written to
 * test/bench/results/uploads-floor.json. Issue #12 asks for <= 10 ms of worker CPU per upload; a
 * V8 profile gives ~26% of the worker's main thread to the UCAN/IPLD libraries. This measures
 * that floor instead of arguing about it.
 *
 *  1. "ucan calls": the UCAN peers (upload-api with its storage nodes, indexing service, gateway:
 *     `test/fleet/service-process.ts ucan`, as bench:uploads starts them) run in a process of their
 *     own. THIS process makes, for BENCH_UPLOADS (default 800) single-shard uploads, 64 in flight,
 *     exactly the round trips the worker makes per upload (docs/uploads.md, "Throughput"): one
 *     claims query, the blob add of the index (invoke, PUT to the storage node, conclude, receipt),
 *     one claims batch (assert/index + assert/location in one request), one verifying claims
 *     query; with the worker's own code (ucan.ts's UcanAgent, claims-query.ts, lean-fetch.ts,
 *     native-ed25519.ts, migrate-upload.ts's lookAround). No S3, DynamoDB, SQS, piscina or index
 *     building: each upload's index is built before the timed window, and the peers are seeded
 *     (legacy location claims, provisioned migration spaces) before it too.
 *  2. "transport only": the same requests, bodies captured in mode 1, replayed to the same URLs
 *     with the same lean keep-alive fetch (the very instance, sockets included), 64 in flight,
 *     answers read but not decoded. Mode 1 minus mode 2 is what the UCAN/IPLD libraries cost
 *     (encoding, signing, decoding, verifying); mode 2 is the HTTP transport's share.
 *  3. "batched": the batching the worker's claims batcher does (claims-batcher.ts), in fixed groups
 *     here and the blob adds side by side too, for BENCH_UPLOADS other uploads: groups of up
 *     to 16 uploads of one space, each group's claims queries and claims batch carrying all of
 *     them (`batchedCalls`). Whether batching uploads could reach the target where mode 1 cannot.
 *
 * CPU is the whole process's (user + sys, every thread, GC included; the main thread's alone is
 * given too, from /proc) over the timed window only; each window follows an untimed warm-up of
 * 64 uploads (JIT, sockets) and a forced GC (the precomputed data's garbage is not the calls'
 * cost). The peers' CPU comes from /proc. The
 * machine has 2 cores that the peers and this client share: the rate is the pair's, the client's
 * CPU per upload is what matters for the target.
 */
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Signer } from '@ucanto/interface';
import { ed25519 } from '@ucanto/principal';
import { base58btc } from 'multiformats/bases/base58';
import { CID } from 'multiformats/cid';
import { indexCarStream } from '../../worker/jobs/uploads/car-stream-index.js';
import { parseUploadsConfig, type UploadsConfigInput } from '../../worker/jobs/uploads/config.js';
import { type BuiltIndex, buildDagIndex } from '../../worker/jobs/uploads/dag-index.js';
import { LeanResponse } from '../../worker/jobs/uploads/lean-fetch.js';
import {
  claimsByContent,
  hasSpace,
  lookAround,
  type Shard,
  shardOf,
} from '../../worker/jobs/uploads/migrate-upload.js';
import { peerDestinations } from '../../worker/jobs/uploads/peer-rates.js';
import { prng } from '../../worker/jobs/uploads/seed/seed.js';
import { contentBytes, type DagShape, encodeShards } from '../../worker/jobs/uploads/seed/dag.js';
import { carparkKeys } from '../../worker/jobs/uploads/shard-source.js';
import { type ClaimToPublish, UcanAgent } from '../../worker/jobs/uploads/ucan.js';
import { forkReady, type ReadyReply } from '../fleet/fork-ready.js';
import { startCpuWindow, threadCpuSeconds } from './lib/proc-cpu.js';

const DIST = fileURLToPath(new URL('../../', import.meta.url));
const SERVICE = path.join(DIST, 'test/fleet/service-process.js');
const RESULTS = path.resolve(DIST, '../test/bench/results/uploads-floor.json');
const UPLOADS = Number(process.env.BENCH_UPLOADS ?? 800);
/** bench:uploads runs the worker with --concurrency 64 */
const CONCURRENCY = 64;
const WARMUP = CONCURRENCY;
/** mode 3: uploads of one space per batched call, and groups in flight (the same 64 uploads in flight) */
const BATCH = 16;
const TARGET_MS = 10;
/** where seeded location claims point (the worker copies them; nothing fetches them) */
const PUBLIC_URL = 'https://carpark.s3.amazonaws.com/';
const CUSTOMERS = 5;
const SPACES = 20;
const work = mkdtempSync(path.join(tmpdir(), 'convoy-uploads-floor-'));

const say = (s: string) => process.stdout.write(s + '\n');
const round1 = (x: number) => Math.round(x * 10) / 10;

// a forced GC before each window, so that the garbage of the precomputed data is not collected
// (and billed) inside it; the flag can be set at run time, `gc` is then found in a new context
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** One upload as the worker holds it once its index is built (migrate-upload.ts, step 3). */
interface PlannedUpload {
  space: string;
  migrationSpace: Signer;
  root: string;
  shard: Shard;
  shardSize: number;
  index: BuiltIndex;
}

async function* once(bytes: Uint8Array) {
  yield bytes;
}

/**
 * `count` single-shard uploads as `convoy local seed uploads` makes them (70% CIDv1 raw leaves,
 * 30% CIDv0 dag-pb; sizes log-uniform from 1 KiB to 1 MiB), each indexed with the worker's
 * indexer and its sharded DAG index built: the index bytes the blob add stores.
 */
async function planUploads(
  count: number,
  spaces: string[],
  migrationSpaces: Signer[],
  label = 'uploads-floor',
): Promise<PlannedUpload[]> {
  const random = prng(label);
  const out: PlannedUpload[] = [];
  for (let i = 0; i < count; i++) {
    const shape: DagShape = random() < 0.7 ? 'v1-raw' : 'v0-pb';
    const bytes = Math.floor(Math.exp(Math.log(1024) + random() * (Math.log(1024 * 1024) - Math.log(1024))));
    const content = contentBytes(`${label}:${i}`, bytes); // the peers are fresh each run: nothing is there yet
    let shardBytes: Uint8Array | undefined;
    let shardCid = '';
    const root = await encodeShards(content, shape, 127 * 1024 * 1024, async (s) => {
      shardBytes = s.bytes;
      shardCid = s.cid;
    });
    const shardIndex = await indexCarStream(once(shardBytes!));
    const s = i % spaces.length;
    out.push({
      space: spaces[s]!,
      migrationSpace: migrationSpaces[s % migrationSpaces.length]!,
      root,
      shard: shardOf(shardCid),
      shardSize: shardIndex.size,
      index: await buildDagIndex(root, [shardIndex]),
    });
  }
  return out;
}

/**
 * What the indexer holds before a migration: each shard's legacy location claim (no space), as
 * the seed publishes them; 100 claims per request (ucanto batches), so seeding is quick.
 */
async function seedLocationClaims(agent: UcanAgent, uploads: PlannedUpload[]): Promise<void> {
  for (let i = 0; i < uploads.length; i += 100) {
    await agent.publishClaims(
      uploads.slice(i, i + 100).map((u) => ({
        type: 'location',
        shardMultihash: u.shard.multihash,
        location: new URL(carparkKeys(u.shard.cid).blobKey, PUBLIC_URL).toString(),
        size: u.shardSize,
        space: undefined,
      })),
    );
  }
}

/**
 * One upload's UCAN calls, as migrateUpload makes them in mode `migrate` for a single-shard upload
 * whose index is missing and whose space's gateway is already authorized (the step the worker
 * remembers per process): look, store the index blob, publish index + location claim in one
 * request, look again and check. The location claim is the found one, with the space.
 */
async function migrateCalls(agent: UcanAgent, u: PlannedUpload): Promise<void> {
  const before = await lookAround(agent, u.root, [u.shard], u.space);
  if (before.indexClaim) throw new Error(`${u.root}: the index is already there`);
  await agent.storeBlob(u.migrationSpace, u.index.bytes, u.index.multihash, new AbortController().signal);
  const claims: ClaimToPublish[] = [{ type: 'index', root: u.root, index: u.index.link }];
  const base = before.locations.get(u.shard.b58)?.find((c) => c.location?.length);
  if (!base?.location?.[0] || base.range?.length === undefined) throw new Error(`${u.root}: no location claim found`);
  claims.push({
    type: 'location',
    shardMultihash: u.shard.multihash,
    location: base.location[0],
    size: base.range.length,
    space: u.space,
  });
  await agent.publishClaims(claims);
  const after = await lookAround(agent, u.root, [u.shard], u.space);
  if (!after.indexClaim || !hasSpace(after.locations.get(u.shard.b58), u.space))
    throw new Error(`${u.root}: verification failed`);
}

/**
 * Mode 3: the same steps for a group of uploads of one space, with every call that can carry
 * several uploads carrying them: one claims query for all the group's roots and shards, the
 * index blob adds (one per upload: each is its own blob; side by side), one claims batch for
 * every upload's assert/index and assert/location, one verifying query. A design the worker does
 * not use (an item is one upload); measured to know whether batching uploads could reach the
 * target where one upload per call cannot.
 */
async function batchedCalls(agent: UcanAgent, group: PlannedUpload[]): Promise<void> {
  const space = group[0]!.space;
  const look = async () =>
    claimsByContent(
      await agent.queryClaims(
        group.flatMap((u) => [CID.parse(u.root).multihash.bytes, u.shard.multihash]),
        space,
      ),
    );
  const before = await look();
  await Promise.all(
    group.map((u) => agent.storeBlob(u.migrationSpace, u.index.bytes, u.index.multihash, new AbortController().signal)),
  );
  const claims: ClaimToPublish[] = group.flatMap((u) => {
    const base = before.locations.get(u.shard.b58)?.find((c) => c.location?.length);
    if (!base?.location?.[0] || base.range?.length === undefined) throw new Error(`${u.root}: no location claim found`);
    return [
      { type: 'index' as const, root: u.root, index: u.index.link },
      {
        type: 'location' as const,
        shardMultihash: u.shard.multihash,
        location: base.location[0],
        size: base.range.length,
        space,
      },
    ];
  });
  await agent.publishClaims(claims);
  const after = await look();
  for (const u of group)
    if (
      !after.index.has(base58btc.encode(CID.parse(u.root).multihash.bytes)) ||
      !hasSpace(after.locations.get(u.shard.b58), space)
    )
      throw new Error(`${u.root}: verification failed`);
}

/** Uploads grouped by space, at most `size` per group (mode 3's unit of work). */
function groupsBySpace(uploads: PlannedUpload[], size: number): PlannedUpload[][] {
  const bySpace = new Map<string, PlannedUpload[]>();
  for (const u of uploads) bySpace.set(u.space, [...(bySpace.get(u.space) ?? []), u]);
  return [...bySpace.values()].flatMap((list) =>
    Array.from({ length: Math.ceil(list.length / size) }, (_, i) => list.slice(i * size, (i + 1) * size)),
  );
}

/** `fn` over `items` with `concurrency` in flight (the worker's --concurrency); failures counted. */
async function inFlight<T>(items: T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<number> {
  let next = 0;
  let failed = 0;
  let firstError: unknown;
  const lane = async () => {
    while (next < items.length) {
      const item = items[next++]!;
      await fn(item).catch((err) => {
        failed++;
        firstError ??= err;
      });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  if (failed) say(`  ${failed} failed; the first: ${(firstError as Error)?.message ?? firstError}`);
  return failed;
}

/** A request as the UCAN clients sent it (bodies are the encoded bytes, kept by reference). */
interface Recorded {
  peer: string;
  url: string;
  init: { method?: string; headers?: unknown; body?: unknown };
  sentBytes: number;
  receivedBytes: number;
}

const byteLength = (body: unknown) =>
  typeof body === 'string' ? Buffer.byteLength(body) : ArrayBuffer.isView(body) ? body.byteLength : 0;
const responseBytes = (res: Response) => (res instanceof LeanResponse ? res.body.length : 0);

interface TimedWindow {
  seconds: number;
  client_cpu_ms_per_upload: number;
  client_user_ms_per_upload: number;
  client_sys_ms_per_upload: number;
  /** the main thread alone (what a V8 profile of it sees); the rest: V8's helper threads (GC, compiler), libuv's */
  client_main_thread_ms_per_upload: number;
  peers_cpu_ms_per_upload: number;
  machine_busy?: number;
  /** the part of machine_busy that is neither this client nor the peers (another session's work) */
  machine_busy_others?: number;
  loadavg_at_start: number[];
  /** a speed probe of this core right before and after the window: the same VM is not always as fast */
  sha256_mib_per_s: [number, number];
}

/** Run `fn` as a timed window: this process's CPU (user, sys) and the peers' over it, per upload. */
async function timed(peersPid: number, uploads: number, fn: () => Promise<void>): Promise<TimedWindow> {
  const shaBefore = sha256MiBps();
  gc();
  const loadAtStart = loadavg().map(round1);
  const end = startCpuWindow(() => ({ peers: [peersPid] }), 'client');
  const self0 = process.cpuUsage();
  const main0 = threadCpuSeconds(process.pid, process.pid) ?? 0;
  await fn();
  const self = process.cpuUsage(self0);
  const mainS = (threadCpuSeconds(process.pid, process.pid) ?? 0) - main0;
  const r = end();
  const shaAfter = sha256MiBps();
  return {
    seconds: r.seconds,
    client_cpu_ms_per_upload: round1((self.user + self.system) / 1000 / uploads),
    client_user_ms_per_upload: round1(self.user / 1000 / uploads),
    client_sys_ms_per_upload: round1(self.system / 1000 / uploads),
    client_main_thread_ms_per_upload: round1((mainS * 1000) / uploads),
    peers_cpu_ms_per_upload: round1((r.components.peers!.cpuS * 1000) / uploads),
    machine_busy: r.machineBusy,
    machine_busy_others:
      r.machineBusy === undefined
        ? undefined
        : Math.max(
            0,
            Math.round(
              (r.machineBusy -
                (r.components.client!.cpuS + r.components.peers!.cpuS) / r.seconds / availableParallelism()) *
                100,
            ) / 100,
          ),
    loadavg_at_start: loadAtStart,
    sha256_mib_per_s: [shaBefore, shaAfter],
  };
}

function perUpload<R extends Pick<Recorded, 'peer'>>(records: R[], uploads: number, key: (r: R) => number) {
  const out: Record<string, number> = {};
  for (const r of records) out[r.peer] = (out[r.peer] ?? 0) + key(r);
  for (const k of Object.keys(out)) out[k] = Math.round((out[k]! / uploads) * 100) / 100;
  return out;
}

let probe: Uint8Array | undefined;
/** sha256 of 32 MiB in memory, best of 3: how fast this core is now (bench:uploads hashes a file through a stream: another figure) */
function sha256MiBps(): number {
  probe ??= contentBytes('sha-speed', 32 * 1024 * 1024);
  let best = Infinity;
  for (let i = 0; i < 3; i++) {
    const t = process.hrtime.bigint();
    createHash('sha256').update(probe).digest();
    best = Math.min(best, Number(process.hrtime.bigint() - t) / 1e9);
  }
  return Math.round(32 / best);
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise<void>((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

async function main(): Promise<void> {
  const loadAtStart = loadavg().map(round1);
  const machine = {
    model: cpus()[0]?.model ?? '?',
    cores: availableParallelism(),
    node: process.version,
    loadavg_at_start: loadAtStart,
    sha256_mib_per_s: sha256MiBps(),
  };
  say(
    `uploads floor: ${UPLOADS} uploads, ${CONCURRENCY} in flight; ${machine.cores} cores (${machine.model}), Node ${machine.node}, load ${loadAtStart.join(' ')}, sha256 ${machine.sha256_mib_per_s} MiB/s`,
  );
  const peers = await forkReady<ReadyReply & { uploads?: UploadsConfigInput }>(SERVICE, ['ucan'], {
    logFile: path.join(work, 'ucan.log'),
    what: 'the UCAN peers',
  });
  try {
    const config = parseUploadsConfig(peers.reply.uploads, 'the UCAN peers');
    const base = await UcanAgent.create(config);
    // every request of the agent passes the recorder, through the seam the worker's rate control
    // uses (withFetch); `lean` is the agent's own lean fetch, which mode 2 replays with
    const role = peerDestinations(config);
    let lean: typeof fetch | undefined;
    let log: Recorded[] = [];
    const agent = base.withFetch((inner) => {
      lean = inner;
      return (async (input: URL | string, init: Recorded['init'] = {}) => {
        const url = new URL(String(input));
        const res = await inner(url, init as RequestInit);
        log.push({
          peer: role(url).split(':')[0]!,
          url: url.href,
          init,
          sentBytes: byteLength(init.body),
          receivedBytes: responseBytes(res),
        });
        return res;
      }) as typeof fetch;
    });

    say('preparing: spaces, migration spaces (provisioned), uploads with their indexes, legacy location claims');
    const prepStart = Date.now();
    const spaces = await Promise.all(Array.from({ length: SPACES }, async () => (await ed25519.generate()).did()));
    const migrationSpaces = await Promise.all(
      Array.from({ length: CUSTOMERS }, async () => (await ed25519.generate()) as unknown as Signer),
    );
    for (const m of migrationSpaces) await agent.provisionSpace(m.did()); // once per customer and process, as MigrationSpaces does
    const all = await planUploads(WARMUP + UPLOADS, spaces, migrationSpaces);
    await seedLocationClaims(agent, all);
    say(`  ${all.length} uploads in ${round1((Date.now() - prepStart) / 1000)} s`);
    const warmup = all.slice(0, WARMUP);
    const uploads = all.slice(WARMUP);

    say(`\nmode 1, ucan calls: the worker's round trips with the worker's code (${WARMUP} uploads to warm up first)`);
    log = []; // not the seeding's requests
    await inFlight(warmup, CONCURRENCY, (u) => migrateCalls(agent, u));
    const warmupLog = log;
    log = [];
    let failed = 0;
    const calls = await timed(peers.child.pid!, UPLOADS, async () => {
      failed = await inFlight(uploads, CONCURRENCY, (u) => migrateCalls(agent, u));
    });
    const callsLog = log;
    const mode1 = {
      ...calls,
      uploads: UPLOADS,
      failed,
      uploads_per_min: Math.round((UPLOADS / calls.seconds) * 60),
      requests_per_upload: perUpload(callsLog, UPLOADS, () => 1),
      bytes_sent_per_upload: perUpload(callsLog, UPLOADS, (r) => r.sentBytes),
      bytes_received_per_upload: perUpload(callsLog, UPLOADS, (r) => r.receivedBytes),
    };
    say(`  ${JSON.stringify(mode1)}`);

    say(`\nmode 2, transport only: mode 1's ${callsLog.length} requests replayed, answers read, not decoded`);
    const statuses: Record<string, number> = {};
    const answers: Array<Pick<Recorded, 'peer' | 'receivedBytes'>> = [];
    const replay = (records: Recorded[], count: boolean) =>
      inFlight(records, CONCURRENCY, async (r) => {
        const res = await lean!(r.url, r.init as RequestInit);
        const body = await res.arrayBuffer();
        if (!count) return;
        answers.push({ peer: r.peer, receivedBytes: body.byteLength });
        const k = `${r.peer} ${res.status}`;
        statuses[k] = (statuses[k] ?? 0) + 1;
      });
    await replay(warmupLog, false);
    let replayFailed = 0;
    const transport = await timed(peers.child.pid!, UPLOADS, async () => {
      replayFailed = await replay(callsLog, true);
    });
    const mode2 = {
      ...transport,
      requests: callsLog.length,
      failed: replayFailed,
      requests_per_s: Math.round(callsLog.length / transport.seconds),
      uploads_per_min_equivalent: Math.round((UPLOADS / transport.seconds) * 60),
      bytes_received_per_upload: perUpload(answers, UPLOADS, (r) => r.receivedBytes),
      statuses,
    };
    say(`  ${JSON.stringify(mode2)}`);

    say(`\nmode 3, batched: groups of up to ${BATCH} uploads of one space per claims query and claims batch`);
    const second = await planUploads(WARMUP + UPLOADS, spaces, migrationSpaces, 'uploads-floor-batched');
    await seedLocationClaims(agent, second);
    log = [];
    await inFlight(groupsBySpace(second.slice(0, WARMUP), BATCH), CONCURRENCY / BATCH, (g) => batchedCalls(agent, g));
    log = [];
    let batchedFailed = 0;
    const batchedGroups = groupsBySpace(second.slice(WARMUP), BATCH);
    const batchedWindow = await timed(peers.child.pid!, UPLOADS, async () => {
      batchedFailed = await inFlight(batchedGroups, CONCURRENCY / BATCH, (g) => batchedCalls(agent, g));
    });
    const mode3 = {
      ...batchedWindow,
      uploads: UPLOADS,
      groups: batchedGroups.length,
      failed: batchedFailed,
      uploads_per_min: Math.round((UPLOADS / batchedWindow.seconds) * 60),
      requests_per_upload: perUpload(log, UPLOADS, () => 1),
    };
    say(`  ${JSON.stringify(mode3)}`);

    const floor = mode1.client_cpu_ms_per_upload;
    const result = {
      floor_client_cpu_ms_per_upload: floor,
      libraries_ms_per_upload: round1(floor - mode2.client_cpu_ms_per_upload),
      transport_ms_per_upload: mode2.client_cpu_ms_per_upload,
      target: {
        worker_cpu_ms_per_upload: TARGET_MS,
        floor_share_of_target: round1(floor / TARGET_MS),
        /** what the rest of the worker (S3, DynamoDB, SQS, index building, the engine) may spend; negative: nothing */
        left_for_the_rest_ms: round1(TARGET_MS - floor),
      },
      ucan_calls: mode1,
      transport_only: mode2,
      batched: mode3,
      concurrency: CONCURRENCY,
      warmup_uploads: WARMUP,
      machine,
      notes: [
        'client CPU: this whole process (user + sys, every thread, GC included) over the timed window, after a warm-up of 64 uploads and a forced GC',
        "mode 1 uses the worker's code: UcanAgent (ucan.ts) with native Ed25519, its lean keep-alive fetch, claims-query.ts, migrate-upload.ts's lookAround; index bytes are built before the window",
        "not in mode 1: the run's adaptive rate gate (peer-rates.ts, needs the state table; costs nothing until a destination throttles), S3, DynamoDB, SQS, piscina, index building, the engine",
        "mode 2 replays mode 1's requests (same URLs, bodies, headers; the same lean fetch and sockets); the upload service answers a replayed invocation from its stored receipts, so the peers' CPU and some answers differ from mode 1",
        'the peers (upload-api, storage nodes, indexing service, gateway) run in one other process on the same cores',
        `mode 3 (batched) groups uploads as the worker's claims batcher does, in fixed groups: per group of up to ${BATCH} uploads of one space, one claims query, the index blob adds side by side (one per upload), one claims batch, one verifying query; its own uploads, warmed up and seeded like mode 1's`,
        'sha256_mib_per_s: 32 MiB in memory, best of 3, a probe of the core speed (not the figure bench:uploads reports, which hashes a file through a stream)',
      ],
      measuredAt: new Date().toISOString(),
    };
    mkdirSync(path.dirname(RESULTS), { recursive: true });
    writeFileSync(RESULTS, JSON.stringify(result, null, 2) + '\n');
    say(`\nwrote ${RESULTS}\n`);
    const req = Object.entries(mode1.requests_per_upload)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    say(
      `client CPU per upload, ucan calls (the floor):   ${floor} ms (user ${mode1.client_user_ms_per_upload}, sys ${mode1.client_sys_ms_per_upload}; main thread ${mode1.client_main_thread_ms_per_upload})`,
    );
    say(
      `client CPU per upload, transport only:           ${mode2.client_cpu_ms_per_upload} ms (main thread ${mode2.client_main_thread_ms_per_upload})`,
    );
    say(
      `  -> UCAN/IPLD libraries ${result.libraries_ms_per_upload} ms, HTTP transport ${result.transport_ms_per_upload} ms`,
    );
    say(
      `peers' CPU per upload:                           ${mode1.peers_cpu_ms_per_upload} ms (transport only: ${mode2.peers_cpu_ms_per_upload} ms)`,
    );
    say(`requests per upload:                             ${req}`);
    say(
      `client CPU per upload, batched (mode 3):         ${mode3.client_cpu_ms_per_upload} ms (main thread ${mode3.client_main_thread_ms_per_upload}; ${Object.entries(
        mode3.requests_per_upload,
      )
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')} requests per upload)`,
    );
    say(
      `uploads/min (client + peers on ${machine.cores} cores):        ${mode1.uploads_per_min} (machine busy ${mode1.machine_busy}, of which others ${mode1.machine_busy_others})`,
    );
    say(
      `machine:                                         ${machine.model}, ${machine.cores} cores, Node ${machine.node}, load ${loadAtStart.join(' ')} at the start; sha256 ${mode1.sha256_mib_per_s.join(' / ')} MiB/s before / after the ucan window`,
    );
    say(
      `floor vs ${TARGET_MS} ms target:                         ${floor} ms = ${Math.round((floor / TARGET_MS) * 100)}% of it: ${
        floor > TARGET_MS
          ? `the UCAN calls alone are ${round1(floor - TARGET_MS)} ms over it, before S3, DynamoDB, SQS, index building and the engine`
          : `${result.target.left_for_the_rest_ms} ms left for S3, DynamoDB, SQS, index building and the engine`
      }`,
    );
  } finally {
    await stopChild(peers.child);
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? err}\n`);
  process.exitCode = 1;
});
