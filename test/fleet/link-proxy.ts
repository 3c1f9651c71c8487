/**
 * A TCP proxy that stands for the network between a fleet host and one service: it adds a
 * one-way delay to every chunk in both directions (so a request/response round trip costs
 * 2 x delay, like hosts in one region), and can stall (accept, then forward nothing: 100% loss)
 * or refuse (reset every connection) on command. TCP-level, so it costs little CPU and needs no
 * knowledge of the protocol; the kernel here has no netem, so this is where the delay lives.
 *
 * Order is kept: each direction of a connection has its own queue, and a chunk is written no
 * earlier than the one before it.
 */
import net from 'node:net';

export type LinkMode = 'pass' | 'stall' | 'refuse';

export interface LinkProxyOptions {
  /** address to listen on (the host side of a veth, or 127.0.0.1) */
  host: string;
  /** where the service listens */
  upstreamHost: string;
  upstreamPort: number;
  /** one-way delay per connection, drawn uniformly in [min, max] ms at connect time */
  delayMs?: { min: number; max: number };
  /** fixed listen port (0 = any) */
  port?: number;
}

export interface LinkStats {
  connections: number;
  refused: number;
  upstreamErrors: number;
}

/** Forward chunks after `delayMs`, in order; while `held()` is true nothing is forwarded. */
class DelayedPipe {
  private queue: Array<{ at: number; chunk: Buffer }> = [];
  private timer: NodeJS.Timeout | undefined;
  private ending = false;
  constructor(
    private readonly to: net.Socket,
    private readonly delayMs: number,
    private readonly held: () => boolean,
  ) {}

  push(chunk: Buffer): void {
    this.queue.push({ at: Date.now() + this.delayMs, chunk });
    this.schedule();
  }

  /** The source closed: end the destination once everything queued has been written. */
  finish(): void {
    this.ending = true;
    this.schedule();
  }

  /** Re-check after a stall ends. */
  kick(): void {
    this.schedule();
  }

  private schedule(): void {
    if (this.timer || this.held()) return;
    if (!this.queue.length) {
      if (this.ending && !this.to.destroyed) this.to.end();
      return;
    }
    const wait = Math.max(0, this.queue[0]!.at - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.held()) return;
      const now = Date.now();
      while (this.queue.length && this.queue[0]!.at <= now) {
        if (!this.to.destroyed) this.to.write(this.queue.shift()!.chunk);
        else this.queue.shift();
      }
      this.schedule();
    }, wait);
  }

  clear(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.queue = [];
  }
}

export class LinkProxy {
  private server: net.Server | undefined;
  private mode: LinkMode = 'pass';
  private readonly sockets = new Set<net.Socket>();
  private readonly clients = new Set<net.Socket>();
  private readonly pipes = new Set<DelayedPipe>();
  readonly stats: LinkStats = { connections: 0, refused: 0, upstreamErrors: 0 };
  port = 0;

  constructor(private readonly opts: LinkProxyOptions) {}

  get url(): string {
    return `http://${this.opts.host}:${this.port}`;
  }

  async start(): Promise<this> {
    const server = net.createServer((client) => this.onConnection(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port ?? 0, this.opts.host, () => resolve());
    });
    this.server = server;
    this.port = (server.address() as net.AddressInfo).port;
    return this;
  }

  setMode(mode: LinkMode): void {
    this.mode = mode;
    // reset the hosts' side; each connection's close handler then closes its upstream normally
    if (mode === 'refuse') for (const s of this.clients) s.resetAndDestroy();
    if (mode === 'pass') for (const p of this.pipes) p.kick();
  }

  get currentMode(): LinkMode {
    return this.mode;
  }

  private onConnection(client: net.Socket): void {
    this.stats.connections++;
    if (this.mode === 'refuse') {
      this.stats.refused++;
      client.resetAndDestroy();
      return;
    }
    const delay = this.opts.delayMs
      ? this.opts.delayMs.min + Math.random() * (this.opts.delayMs.max - this.opts.delayMs.min)
      : 0;
    const upstream = net.connect(this.opts.upstreamPort, this.opts.upstreamHost);
    upstream.setNoDelay(true);
    client.setNoDelay(true);
    this.sockets.add(client).add(upstream);
    this.clients.add(client);
    const held = () => this.mode === 'stall';
    const toUpstream = new DelayedPipe(upstream, delay, held);
    const toClient = new DelayedPipe(client, delay, held);
    this.pipes.add(toUpstream).add(toClient);
    client.on('data', (c) => toUpstream.push(c));
    upstream.on('data', (c) => toClient.push(c));
    const close = () => {
      toUpstream.clear();
      toClient.clear();
      this.pipes.delete(toUpstream);
      this.pipes.delete(toClient);
      this.sockets.delete(client);
      this.sockets.delete(upstream);
      this.clients.delete(client);
      if (!client.destroyed) client.destroy();
      if (!upstream.destroyed) upstream.destroy();
    };
    upstream.on('error', () => {
      // the service is down (killed): the client sees a reset, as from a dead host
      this.stats.upstreamErrors++;
      if (!client.destroyed) client.resetAndDestroy();
      close();
    });
    client.on('error', close);
    // a side that closes normally: deliver what is still delayed, then close the other side
    client.on('end', () => toUpstream.finish());
    upstream.on('end', () => toClient.finish());
    let closed = 0;
    const onClose = () => {
      if (++closed === 2) close();
    };
    client.on('close', onClose);
    upstream.on('close', onClose);
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    for (const p of this.pipes) p.clear();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
