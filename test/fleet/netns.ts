/**
 * Network namespaces as "hosts": each fleet worker can run in its own namespace, joined to this
 * machine by a veth pair with a private /30 (host side .1, namespace side .2, inside
 * 10.231.0.0/16). The namespace sees only its veth and its own loopback, so the worker reaches the
 * stack through the host-side address, where the harness's link proxies listen.
 *
 * Needs root and iproute2 (`ip`); Debian package: iproute2. Checked with `netnsAvailable()`;
 * the harness falls back to loopback when it is missing. The kernel here has no `netem` qdisc,
 * so delay is added by the link proxies (see link-proxy.ts), not by `tc`.
 *
 * Every name carries the harness pid (`cvf<pid>n<k>`), so a sweep removes only namespaces whose
 * harness is dead, never a concurrently running harness's. Removal runs on exit, on signals and
 * on a failed start.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const SUBNET_PREFIX = '10.231';

export interface Host {
  /** namespace name */
  ns: string;
  /** host-side interface (link cut = set it down) */
  hostIf: string;
  hostAddr: string;
  nsAddr: string;
}

/** Interface and namespace names (<= 15 chars: IFNAMSIZ). */
export function hostNames(pid: number, k: number): { ns: string; hostIf: string; nsIf: string } {
  const base = `cvf${pid}n${k}`;
  if (base.length > 13) throw new Error(`pid ${pid} / index ${k} make a name longer than the interface limit`);
  return { ns: base, hostIf: `${base}h`, nsIf: `${base}x` };
}

/** The /30 for slot `slot` in 10.231.0.0/16: .1 on the host, .2 in the namespace. */
export function slotAddresses(slot: number): { hostAddr: string; nsAddr: string } {
  if (!Number.isInteger(slot) || slot < 0 || slot >= 16_384) throw new Error(`slot ${slot} outside 0..16383`);
  const third = Math.floor(slot / 64);
  const fourth = (slot % 64) * 4;
  return { hostAddr: `${SUBNET_PREFIX}.${third}.${fourth + 1}`, nsAddr: `${SUBNET_PREFIX}.${third}.${fourth + 2}` };
}

/**
 * Slots whose /30 is not already configured on this machine (another harness's), scanned from
 * `start` round the range. Between reading the addresses in use and adding ours, another harness
 * may pick the same slot (`ip addr add` does not refuse an address another interface holds), as
 * when `.ci/run` runs two suites at once: each harness starts its scan at a place of its own
 * (`slotStart(pid)`), so two of them meet only if 16k slots fill up.
 */
export function freeSlots(usedAddrs: string[], count: number, start = 0): number[] {
  const used = new Set(usedAddrs);
  const out: number[] = [];
  for (let i = 0; out.length < count && i < 16_384; i++) {
    const slot = (start + i) % 16_384;
    const { hostAddr, nsAddr } = slotAddresses(slot);
    if (!used.has(hostAddr) && !used.has(nsAddr)) out.push(slot);
  }
  if (out.length < count) throw new Error('no free /30 left in 10.231.0.0/16');
  return out;
}

/** Where a harness of this pid starts its slot scan: spread over the range, in steps of 16 slots. */
export function slotStart(pid: number): number {
  return ((pid * 16) >>> 0) % 16_384;
}

/** Namespaces named by a harness pid that no longer runs. */
export function staleNamespaces(names: string[], isAlive: (pid: number) => boolean): string[] {
  return names.filter((n) => {
    const m = /^cvf(\d+)n\d+$/.exec(n);
    return m !== null && !isAlive(Number(m[1]));
  });
}

function ip(args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether this process can create namespaces and veth pairs (root, iproute2, kernel support). */
export function netnsAvailable(): { ok: boolean; why?: string } {
  const probe = `cvf${process.pid}n9999`.slice(0, 13);
  try {
    ip(['netns', 'add', probe]);
    ip(['netns', 'del', probe]);
    return { ok: true };
  } catch (err) {
    return { ok: false, why: ((err as { stderr?: string }).stderr || (err as Error).message).trim() };
  }
}

export function listNamespaces(): string[] {
  try {
    return ip(['netns', 'list'])
      .split('\n')
      .map((l) => l.split(' ')[0]!)
      .filter(Boolean);
  } catch {
    return [];
  }
}

/** Remove namespaces (and so their veth pairs) left by dead harnesses. */
export function sweepStale(): string[] {
  const stale = staleNamespaces(listNamespaces(), alive);
  for (const ns of stale) removeNamespace(ns);
  return stale;
}

export function removeNamespace(ns: string): void {
  // deleting the namespace destroys the veth end inside it, and with it the host end
  try {
    ip(['netns', 'del', ns]);
  } catch {
    /* already gone */
  }
  try {
    ip(['link', 'del', `${ns}h`]);
  } catch {
    /* already gone */
  }
}

function usedAddresses(): string[] {
  const out = ip(['-4', '-o', 'addr', 'show']);
  return [...out.matchAll(/inet (\d+\.\d+\.\d+\.\d+)\//g)].map((m) => m[1]!);
}

/** Create `count` namespaces with a veth pair each; removes what it made if any step fails. */
export function createHosts(count: number): Host[] {
  sweepStale();
  const slots = freeSlots(usedAddresses(), count, slotStart(process.pid));
  const made: Host[] = [];
  try {
    for (let k = 0; k < count; k++) {
      const { ns, hostIf, nsIf } = hostNames(process.pid, k);
      const { hostAddr, nsAddr } = slotAddresses(slots[k]!);
      ip(['netns', 'add', ns]);
      made.push({ ns, hostIf, hostAddr, nsAddr });
      ip(['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf]);
      ip(['link', 'set', nsIf, 'netns', ns]);
      ip(['addr', 'add', `${hostAddr}/30`, 'dev', hostIf]);
      ip(['link', 'set', hostIf, 'up']);
      ip(['-n', ns, 'addr', 'add', `${nsAddr}/30`, 'dev', nsIf]);
      ip(['-n', ns, 'link', 'set', nsIf, 'up']);
      ip(['-n', ns, 'link', 'set', 'lo', 'up']);
    }
    return made;
  } catch (err) {
    removeHosts(made);
    throw err;
  }
}

export function removeHosts(hosts: Host[]): void {
  for (const h of hosts) removeNamespace(h.ns);
}

/** 100% loss on a host's link: its veth goes down (packets are dropped, connections stall). */
export function setLink(host: Host, up: boolean): void {
  ip(['link', 'set', host.hostIf, up ? 'up' : 'down']);
}

/** dist/test/fleet/ns-forwarder.js: beside this module in the build, or the build's copy when run from source */
function forwarderScript(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const root = here.includes(`${path.sep}dist${path.sep}`)
    ? here.slice(0, here.lastIndexOf(`${path.sep}dist${path.sep}`))
    : path.resolve(here, '../..');
  return path.join(root, 'dist', 'test', 'fleet', 'ns-forwarder.js');
}

/**
 * Inside a host's namespace, make `127.0.0.1:<port>` reach `<host side address>:<proxyPort>`
 * (see ns-forwarder.ts: URLs that say 127.0.0.1 and cannot be rewritten). Resolves once it
 * listens; the caller kills it.
 */
export async function startForwarder(
  host: Host,
  mappings: Array<{ port: number; proxyPort: number }>,
): Promise<ChildProcess> {
  const args = mappings.map((m) => `${m.port}=${host.hostAddr}:${m.proxyPort}`);
  const child = spawn('ip', ['netns', 'exec', host.ns, process.execPath, forwarderScript(), ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`namespace forwarder in ${host.ns} exited with ${code}`)));
  });
  return child;
}
