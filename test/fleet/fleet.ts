/**
 * The multi-host fleet harness: the local stack's emulators each in their own process, and N
 * `convoy worker` processes, each (when root and iproute2 allow) in its own network namespace
 * reaching the stack over a veth pair, through per-host link proxies that add 10-25 ms round
 * trips. Faults on command: kill -9 / restart a worker, cut a host's link, stall or refuse a
 * service for everyone, inject throttling errors, kill -9 / restart the on-disk DynamoDB.
 *
 *   worker k (namespace cvf<pid>n<k>, 10.231.x.2)
 *     └─veth─▶ 10.231.x.1: link proxy (delay, stall/refuse)  ─▶ [throttle proxy] ─▶ dynalite (on disk, own process)
 *              10.231.x.1: link proxy                        ─▶ [throttle proxy] ─▶ fauxqs  (SQS+S3, own process)
 *
 * With `uploadPeers`, the uploads job's UCAN peers run in a process of their own too, and each
 * host reaches them (and the upload-api's storage nodes) through link proxies of its own.
 *
 * The harness itself talks to the emulators directly (planning, checking) over 127.0.0.1.
 * Everything it starts is stopped by close(), and by an exit handler if the harness dies.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { provisionState, LOCAL_CREDENTIALS, LOCAL_REGION } from '../../infra/local/stack.js';
import { loadConfig, stateSchema, type ConvoyConfig, type StateConfig } from '../../shared/config.js';
import { createContext } from '../../shared/context.js';
import { KindRegistry, withKinds, type EngineContext } from '../../worker/job-kind.js';
import { builtInKinds } from '../../worker/jobs/builtin.js';
import { probePlugin } from './probe-plugin.js';
import { silentLogger } from '../../shared/log.js';
import { forkReady, type ReadyReply } from './fork-ready.js';
import { LinkProxy, type LinkMode } from './link-proxy.js';
import { createHosts, netnsAvailable, removeHosts, setLink, startForwarder, type Host } from './netns.js';
import { ThrottleProxy } from './throttle-proxy.js';
import type { PeerCounts } from './service-process.js';
import { sleep } from '../../shared/sleep.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
/** the repository root, whether this file runs from dist/ (benchmarks) or from source (vitest) */
const ROOT = HERE.includes(`${path.sep}dist${path.sep}`)
  ? HERE.slice(0, HERE.lastIndexOf(`${path.sep}dist${path.sep}`))
  : path.resolve(HERE, '../..');

/** A compiled file: processes the harness starts always run the build (`npx tsc -p .` first). */
export function distPath(rel: string): string {
  return path.join(ROOT, 'dist', rel);
}

const CLI = distPath('coordinator/cli/main.js');
const SERVICE = distPath('test/fleet/service-process.js');
/** the CLI entry for workers that should know the fleet-probe kind */
export const PROBE_CLI = distPath('test/fleet/convoy-probe-cli.js');

export type ServiceName = 'dynamodb' | 'fauxqs';

export interface FleetOptions {
  workers: number;
  /** 'auto' (default): namespaces when available, loopback otherwise */
  netns?: boolean | 'auto';
  /** one-way delay per connection, ms (round trip = 2x) @defaultValue { min: 5, max: 12.5 } */
  delayMs?: { min: number; max: number };
  /** fraction of requests answered with throttling errors @defaultValue 0 */
  throttleRate?: number;
  /** the CLI entry the workers run (one with test-only job kinds) @defaultValue the convoy CLI */
  cli?: string;
  /** node flags for the workers (e.g. --cpu-prof --cpu-prof-dir=DIR) */
  nodeArgs?: string[];
  /** extra `convoy worker` flags */
  workerArgs?: string[];
  /** start the uploads job's UCAN peers (upload service, indexer, gateway) @defaultValue false */
  uploadPeers?: boolean;
  /** where logs, configs and the DynamoDB data go @defaultValue a new temp dir */
  workDir?: string;
  log?: (msg: string) => void;
}

interface ServiceProc {
  name: ServiceName;
  port: number;
  proc: ChildProcess;
  exited: Promise<void>;
}

export interface WorkerProc {
  index: number;
  label: string;
  host?: Host;
  proxies: Record<ServiceName, LinkProxy>;
  /** link proxies to the UCAN peers and storage nodes (uploadPeers only) */
  ucanProxies: LinkProxy[];
  /** this host's uploads config: peer URLs through its own link proxies (uploadPeers only) */
  uploadsConfigFile?: string;
  /** makes 127.0.0.1:<storage node port> reachable inside the namespace (netns + uploadPeers) */
  forwarder?: ChildProcess;
  configFile: string;
  logFile: string;
  proc?: ChildProcess;
  exited?: Promise<number | null>;
  starts: number;
}

interface UcanPeersProc {
  proc: ChildProcess;
  exited: Promise<void>;
  /** the uploads config the peers minted (keys included: stays in the work dir, mode 0600) */
  uploads: { peers: Record<string, { url: string; did: string }> } & Record<string, unknown>;
  storageNodePorts: number[];
}

export interface FleetCounts {
  kills: number;
  restarts: number;
  linkCuts: number;
  serviceOutages: number;
  dynamoRestarts: number;
}

export class Fleet {
  readonly counts: FleetCounts = { kills: 0, restarts: 0, linkCuts: 0, serviceOutages: 0, dynamoRestarts: 0 };
  readonly workers: WorkerProc[] = [];
  readonly services = new Map<ServiceName, ServiceProc>();
  readonly throttles = new Map<ServiceName, ThrottleProxy>();
  /** the UCAN peers' process (uploadPeers only) */
  ucan?: UcanPeersProc;
  /** the uploads config pointing at the peers directly, for the harness's own commands (seed, plan) */
  uploadsConfigFile?: string;
  hosts: Host[] = [];
  mode: 'netns' | 'loopback' = 'loopback';
  state!: StateConfig;
  config!: ConvoyConfig;
  ctx!: EngineContext;
  readonly workDir: string;
  private closed = false;
  private readonly exitHandler = () => this.killEverythingNow();
  private readonly log: (msg: string) => void;

  private constructor(readonly opts: FleetOptions) {
    this.workDir = opts.workDir ?? mkdtempSync(path.join(tmpdir(), 'convoy-fleet-'));
    mkdirSync(this.workDir, { recursive: true });
    this.log = opts.log ?? (() => undefined);
  }

  static async start(opts: FleetOptions): Promise<Fleet> {
    const fleet = new Fleet(opts);
    process.on('exit', fleet.exitHandler);
    try {
      await fleet.boot();
      return fleet;
    } catch (err) {
      await fleet.close();
      throw err;
    }
  }

  private async boot(): Promise<void> {
    const want = this.opts.netns ?? 'auto';
    if (want !== false) {
      const probe = netnsAvailable();
      if (probe.ok) this.mode = 'netns';
      else if (want === true)
        throw new Error(`network namespaces are not available: ${probe.why} (run as root with iproute2 installed)`);
      else this.log(`network namespaces unavailable (${probe.why}); workers share loopback`);
    }
    await this.startService('dynamodb');
    await this.startService('fauxqs');
    if ((this.opts.throttleRate ?? 0) > 0) {
      for (const name of ['dynamodb', 'fauxqs'] as const) {
        const t = await new ThrottleProxy({
          endpointKind: name,
          upstreamPort: this.services.get(name)!.port,
          rate: this.opts.throttleRate!,
        }).start();
        this.throttles.set(name, t);
      }
    }
    if (this.opts.uploadPeers) await this.startUcanPeers();
    const direct = (name: ServiceName) => `http://127.0.0.1:${this.services.get(name)!.port}`;
    this.state = await provisionState(
      stateSchema.parse({
        region: LOCAL_REGION,
        credentials: { ...LOCAL_CREDENTIALS },
        endpoints: { dynamodb: direct('dynamodb'), sqs: direct('fauxqs') },
        itemsTable: 'fleet-items',
        metaTable: 'fleet-meta',
        queueName: 'fleet-work',
        dlqName: 'fleet-work-dlq',
      }),
    );
    const remotes = {
      local: { endpoint: direct('fauxqs'), region: LOCAL_REGION, ...LOCAL_CREDENTIALS, forcePathStyle: true },
    };
    this.config = loadConfig({
      stack: {
        pid: process.pid,
        startedAtMs: Date.now(),
        state: this.state,
        remotes,
        endpoints: { dynamodb: direct('dynamodb'), sqs: direct('fauxqs'), s3: direct('fauxqs') },
      },
      env: {},
      stateDir: path.join(this.workDir, 'state'),
    });
    this.ctx = withKinds(
      await createContext(this.config, { log: silentLogger }),
      new KindRegistry([...builtInKinds, probePlugin]),
    );

    if (this.mode === 'netns') this.hosts = createHosts(this.opts.workers);
    for (let k = 0; k < this.opts.workers; k++) await this.addWorker(k);
    this.log(`fleet up: ${this.opts.workers} worker host(s) on ${this.mode}, work dir ${this.workDir}`);
  }

  /** Start (or restart on its old port) one emulator process. */
  private async startService(name: ServiceName): Promise<void> {
    const prev = this.services.get(name);
    const args =
      name === 'dynamodb'
        ? ['dynalite', String(prev?.port ?? 0), path.join(this.workDir, 'dynamodb')]
        : ['fauxqs', String(prev?.port ?? 0)];
    const { child: proc, reply } = await forkReady<ReadyReply & { port?: number }>(SERVICE, args, {
      logFile: path.join(this.workDir, `${name}.log`),
      what: name,
    });
    if (!reply.port) throw new Error(`${name} did not say its port`);
    const exited = new Promise<void>((resolve) =>
      proc.exitCode !== null ? resolve() : proc.once('exit', () => resolve()),
    );
    this.services.set(name, { name, port: reply.port, proc, exited });
  }

  /** The UCAN peers in their own process; the harness's uploads config points at them directly. */
  private async startUcanPeers(): Promise<void> {
    const { child: proc, reply } = await forkReady<
      ReadyReply & { uploads?: UcanPeersProc['uploads']; storageNodePorts?: number[] }
    >(SERVICE, ['ucan'], { logFile: path.join(this.workDir, 'ucan.log'), what: 'UCAN peers' });
    if (!reply.uploads) throw new Error('the UCAN peers did not send their uploads config');
    const exited = new Promise<void>((resolve) =>
      proc.exitCode !== null ? resolve() : proc.once('exit', () => resolve()),
    );
    this.ucan = { proc, exited, uploads: reply.uploads, storageNodePorts: reply.storageNodePorts ?? [] };
    this.uploadsConfigFile = path.join(this.workDir, 'uploads.json');
    writeFileSync(this.uploadsConfigFile, JSON.stringify(reply.uploads), { mode: 0o600 });
  }

  /** What the UCAN peers received so far (uploadPeers only). */
  peerCounts(): Promise<PeerCounts> {
    const ucan = this.ucan;
    if (!ucan) return Promise.reject(new Error('the fleet was started without uploadPeers'));
    return new Promise((resolve) => {
      const onMessage = (m: { type?: string; counts?: PeerCounts }) => {
        if (m?.type !== 'counts') return;
        ucan.proc.off('message', onMessage);
        resolve(m.counts!);
      };
      ucan.proc.on('message', onMessage);
      ucan.proc.send({ type: 'counts' });
    });
  }

  /**
   * A host's way to the UCAN peers: a link proxy per peer and per storage node, an uploads config
   * naming the proxies, and (in a namespace) a forwarder for the storage nodes' 127.0.0.1 URLs.
   */
  private async connectUcan(w: WorkerProc, listen: string): Promise<void> {
    const ucan = this.ucan!;
    const proxyTo = async (port: number) => {
      const p = await new LinkProxy({
        host: listen,
        upstreamHost: '127.0.0.1',
        upstreamPort: port,
        delayMs: this.opts.delayMs ?? { min: 5, max: 12.5 },
      }).start();
      w.ucanProxies.push(p);
      return p;
    };
    const peers: Record<string, { url: string; did: string }> = {};
    for (const [name, peer] of Object.entries(ucan.uploads.peers)) {
      const u = new URL(peer.url);
      const p = await proxyTo(Number(u.port));
      u.hostname = listen;
      u.port = String(p.port);
      peers[name] = { ...peer, url: u.toString() };
    }
    w.uploadsConfigFile = path.join(this.workDir, `${w.label}.uploads.json`);
    writeFileSync(w.uploadsConfigFile, JSON.stringify({ ...ucan.uploads, peers }), { mode: 0o600 });
    const storage = await Promise.all(
      ucan.storageNodePorts.map(async (port) => ({ port, proxy: await proxyTo(port) })),
    );
    if (!w.host || storage.length === 0) return; // on loopback the storage nodes' URLs work as they are (undelayed)
    w.forwarder = await startForwarder(
      w.host,
      storage.map((s) => ({ port: s.port, proxyPort: s.proxy.port })),
    );
  }

  /** Where a host's link proxy for a service forwards to: the throttle proxy when there is one. */
  private upstreamPort(name: ServiceName): number {
    return this.throttles.get(name)?.port ?? this.services.get(name)!.port;
  }

  private async addWorker(k: number): Promise<void> {
    const host = this.hosts[k];
    const listen = host?.hostAddr ?? '127.0.0.1';
    const proxies = {} as Record<ServiceName, LinkProxy>;
    for (const name of ['dynamodb', 'fauxqs'] as const) {
      proxies[name] = await new LinkProxy({
        host: listen,
        upstreamHost: '127.0.0.1',
        upstreamPort: this.upstreamPort(name),
        delayMs: this.opts.delayMs ?? { min: 5, max: 12.5 },
      }).start();
    }
    const label = `host-${k + 1}`;
    const configFile = path.join(this.workDir, `${label}.config.json`);
    writeFileSync(
      configFile,
      JSON.stringify(
        {
          state: { ...this.state, endpoints: { dynamodb: proxies.dynamodb.url, sqs: proxies.fauxqs.url } },
          remotes: {
            local: { endpoint: proxies.fauxqs.url, region: LOCAL_REGION, ...LOCAL_CREDENTIALS, forcePathStyle: true },
          },
        },
        null,
        2,
      ),
    );
    const w: WorkerProc = {
      index: k,
      label,
      host,
      proxies,
      ucanProxies: [],
      configFile,
      logFile: path.join(this.workDir, `${label}.log`),
      starts: 0,
    };
    this.workers.push(w);
    if (this.ucan) await this.connectUcan(w, listen);
    this.startWorker(w);
  }

  private startWorker(w: WorkerProc): void {
    const nodeArgs = [
      ...(this.opts.nodeArgs ?? []),
      this.opts.cli ?? CLI,
      '--config',
      w.configFile,
      '--state-dir',
      path.join(this.workDir, 'state'),
      '--log-level',
      'warn',
      'worker',
      // one process per "host": killWorker's kill -9 stands for a crashed host, which no
      // supervisor restarts (--processes 1: the worker alone, no supervisor)
      '--processes',
      '1',
      '--instance',
      w.label,
      '--worker-id',
      `${w.label}-${++w.starts}`,
      ...(this.opts.workerArgs ?? []),
    ];
    const [cmd, args] = w.host
      ? ['ip', ['netns', 'exec', w.host.ns, process.execPath, ...nodeArgs]]
      : [process.execPath, nodeArgs];
    const fd = openSync(w.logFile, 'a');
    const proc = spawn(cmd as string, args as string[], {
      stdio: ['ignore', fd, fd],
      env: {
        ...process.env,
        NODE_OPTIONS: '',
        ...(w.uploadsConfigFile ? { CONVOY_UPLOADS_CONFIG: w.uploadsConfigFile } : {}),
      },
    });
    closeSync(fd);
    w.proc = proc;
    w.exited = new Promise((resolve) =>
      proc.once('exit', (code, signal) => {
        if (!this.closed && signal !== 'SIGKILL') {
          // an exit nobody asked for: show why
          const tail = readFileSync(w.logFile, 'utf8')
            .split('\n')
            .filter((l) => l.startsWith('{') || /error/i.test(l))
            .slice(-3)
            .join('\n  ');
          this.log(`${w.label} exited (code ${code}, signal ${signal}); log ${w.logFile}\n  ${tail}`);
        }
        resolve(code);
      }),
    );
  }

  /** kill -9 a worker and wait until it is gone. */
  async killWorker(k: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const w = this.workers[k]!;
    if (!w.proc || w.proc.exitCode !== null || w.proc.signalCode !== null) return;
    w.proc.kill(signal);
    if (signal === 'SIGKILL') this.counts.kills++;
    await w.exited;
  }

  async restartWorker(k: number): Promise<void> {
    const w = this.workers[k]!;
    if (w.proc && w.proc.exitCode === null && w.proc.signalCode === null) await this.killWorker(k);
    this.startWorker(w);
    this.counts.restarts++;
  }

  isRunning(k: number): boolean {
    const p = this.workers[k]?.proc;
    return !!p && p.exitCode === null && p.signalCode === null;
  }

  /** 100% loss on one host's link for `ms` (veth down in a namespace; both proxies stalled on loopback). */
  async cutLink(k: number, ms: number, signal?: AbortSignal): Promise<void> {
    const w = this.workers[k]!;
    this.counts.linkCuts++;
    if (w.host) setLink(w.host, false);
    else for (const p of Object.values(w.proxies)) p.setMode('stall');
    try {
      await sleep(ms, signal);
    } finally {
      if (w.host) setLink(w.host, true);
      else for (const p of Object.values(w.proxies)) p.setMode('pass');
    }
  }

  /** A service unreachable for every host: 'stall' (silent) or 'refuse' (connection reset). */
  setServiceMode(name: ServiceName, mode: LinkMode): void {
    if (mode !== 'pass') this.counts.serviceOutages++;
    for (const w of this.workers) w.proxies[name].setMode(mode);
  }

  /** kill -9 the on-disk DynamoDB emulator. */
  async killDynamo(): Promise<void> {
    const s = this.services.get('dynamodb')!;
    s.proc.kill('SIGKILL');
    await s.exited;
  }

  /** Start it again on the same port and data directory. */
  async restartDynamo(): Promise<void> {
    await this.startService('dynamodb');
    this.counts.dynamoRestarts++;
  }

  injectedErrors(): Record<string, number> {
    const out: Record<string, number> = { dynamodb: 0, sqs: 0, s3: 0 };
    for (const t of this.throttles.values()) for (const [k, v] of Object.entries(t.injected)) out[k]! += v;
    return out;
  }

  setThrottleRate(rate: number): void {
    for (const t of this.throttles.values()) t.rate = rate;
  }

  /** SIGTERM every worker (graceful) and wait, SIGKILL after `deadlineMs`. */
  async stopWorkers(deadlineMs = 15_000): Promise<void> {
    await Promise.all(
      this.workers.map(async (w) => {
        if (!w.proc || w.proc.exitCode !== null || w.proc.signalCode !== null) return;
        w.proc.kill('SIGTERM');
        const t = setTimeout(() => w.proc?.kill('SIGKILL'), deadlineMs);
        await w.exited;
        clearTimeout(t);
      }),
    );
  }

  /** Wait until every worker process has exited by itself (--exit-when-idle). */
  async waitForWorkersToExit(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.exited));
  }

  async close(opts: { keepWorkDir?: boolean } = {}): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.stopWorkers(5_000);
    } catch {
      /* keep going */
    }
    this.ctx?.close();
    for (const w of this.workers) {
      w.forwarder?.kill('SIGKILL');
      for (const p of [...Object.values(w.proxies), ...w.ucanProxies]) await p.close().catch(() => undefined);
    }
    if (this.ucan) {
      this.ucan.proc.kill('SIGKILL');
      await this.ucan.exited;
    }
    for (const t of this.throttles.values()) await t.close().catch(() => undefined);
    for (const s of this.services.values()) {
      s.proc.kill('SIGKILL');
      await s.exited;
    }
    removeHosts(this.hosts);
    this.hosts = [];
    process.off('exit', this.exitHandler);
    if (!opts.keepWorkDir && !this.opts.workDir) rmSync(this.workDir, { recursive: true, force: true });
  }

  /** Synchronous last resort (process exit): kill children, remove namespaces. */
  private killEverythingNow(): void {
    for (const w of this.workers) {
      w.proc?.kill('SIGKILL');
      w.forwarder?.kill('SIGKILL');
    }
    for (const s of this.services.values()) s.proc.kill('SIGKILL');
    this.ucan?.proc.kill('SIGKILL');
    removeHosts(this.hosts);
  }
}

export { sleep };

/**
 * Stop the fleet on SIGINT/SIGTERM of the harness process (benchmarks and chaos runs). Returns a
 * function that removes the handlers again (a benchmark starts one fleet after another).
 */
export function closeOnSignals(fleet: Fleet): () => void {
  const stop = (sig: NodeJS.Signals) => {
    void fleet.close().finally(() => process.exit(sig === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return () => {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  };
}
