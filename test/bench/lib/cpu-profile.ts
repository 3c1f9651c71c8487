/**
 * Summarise a V8 CPU profile (`node --cpu-prof` writes one .cpuprofile per process/thread):
 * self time by area (a package, convoy's own folders, Node internals, GC, idle) and the hottest
 * functions. Pure apart from reading files.
 *
 * The CLI runs as an esbuild bundle (infra/build/bundle-cli.mjs) whose chunks hold the libraries'
 * code too: a frame's URL says only "dist/coordinator/cli/chunks/x.js". Frames in a file with a
 * source map beside it are attributed through the map, to the source file (and so the package)
 * the code came from.
 */
import { existsSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber?: number };
  hitCount?: number;
}

/** Where a frame came from: its own URL and line, or, in a bundle, the original's (0-based line). */
export type FrameSource = (url: string, line: number, column: number) => { url: string; line: number };

/** Frames of files with a `.map` beside them mapped to their sources; every other frame as it is. */
export function sourceMapped(): FrameSource {
  const maps = new Map<string, SourceMap | undefined>();
  const mapOf = (url: string): SourceMap | undefined => {
    if (maps.has(url)) return maps.get(url);
    let map: SourceMap | undefined;
    if (url.startsWith('file://') && url.endsWith('.js')) {
      const file = `${fileURLToPath(url)}.map`;
      if (existsSync(file)) map = new SourceMap(JSON.parse(readFileSync(file, 'utf8')));
    }
    maps.set(url, map);
    return map;
  };
  return (url, line, column) => {
    const map = mapOf(url);
    const entry = map?.findEntry(line, column) as { originalSource?: string; originalLine?: number } | undefined;
    if (!entry?.originalSource) return { url, line };
    // sources are relative to the map's own folder (or already URLs)
    const original = entry.originalSource.includes('://')
      ? entry.originalSource
      : pathToFileURL(path.resolve(path.dirname(fileURLToPath(url)), entry.originalSource)).href;
    return { url: original, line: entry.originalLine ?? line };
  };
}

const asIs: FrameSource = (url, line) => ({ url, line });

export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  /** microseconds since the previous sample (the first: since startTime) */
  timeDeltas?: number[];
}

/** A time window on the monotonic clock, in microseconds (process.hrtime.bigint() / 1000n). */
export interface WindowUs {
  fromUs: number;
  toUs: number;
}

export interface ProfileSummary {
  /** wall time covered by the profile (ms) */
  durationMs: number;
  /** time not idle (ms) */
  busyMs: number;
  byArea: Array<{ area: string; ms: number; pct: number }>;
  topFunctions: Array<{ fn: string; area: string; ms: number; pct: number }>;
}

/** Which part of the program a frame's URL belongs to. */
export function areaOf(url: string, functionName: string): string {
  if (!url) {
    if (functionName === '(idle)') return '(idle)';
    if (functionName === '(garbage collector)') return '(gc)';
    if (functionName === '(program)') return '(program: V8/native)';
    return '(native)';
  }
  if (url.startsWith('node:')) return 'node internals';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + '/node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  // convoy's TypeScript, where a bundle's source map led; then tsc's or the bundle's output
  const dist =
    /\/(?:dist\/)?(coordinator|worker|shared|state|monitor|infra|test)\/(?:([^/]+)\/)?.*\.ts$/.exec(url) ??
    /\/dist\/([^/]+)\/(?:([^/]+)\/)?/.exec(url);
  if (dist) return `convoy ${dist[1]}${dist[2] && !dist[2].endsWith('.js') ? '/' + dist[2] : ''}`;
  return url.replace(/^file:\/\//, '');
}

/**
 * Self time per profile node (ms). With samples and time deltas, each sample's interval is
 * charged to its node, and `window` (V8's profile clock is the monotonic clock, the same as
 * process.hrtime) keeps only the samples inside it; otherwise hit counts share the duration.
 */
export function selfTimes(
  profile: CpuProfile,
  window?: WindowUs,
): { perNode: Map<number, number>; durationMs: number } {
  const perNode = new Map<number, number>();
  if (profile.samples?.length && profile.timeDeltas?.length === profile.samples.length) {
    let t = profile.startTime;
    let first = Infinity;
    let last = -Infinity;
    for (let i = 0; i < profile.samples.length; i++) {
      t += profile.timeDeltas[i]!;
      // a sample stands for the interval up to the next one
      const dt = i + 1 < profile.samples.length ? profile.timeDeltas[i + 1]! : 0;
      if (window && (t < window.fromUs || t > window.toUs)) continue;
      first = Math.min(first, t);
      last = Math.max(last, t + dt);
      const id = profile.samples[i]!;
      perNode.set(id, (perNode.get(id) ?? 0) + dt / 1000);
    }
    const durationMs = window
      ? (window.toUs - window.fromUs) / 1000
      : Number.isFinite(first)
        ? (last - first) / 1000
        : 0;
    return { perNode, durationMs };
  }
  const durationMs = (profile.endTime - profile.startTime) / 1000;
  const totalHits = profile.nodes.reduce((s, n) => s + (n.hitCount ?? 0), 0) || 1;
  for (const n of profile.nodes) if (n.hitCount) perNode.set(n.id, (n.hitCount * durationMs) / totalHits);
  return { perNode, durationMs };
}

export function summariseProfile(
  profile: CpuProfile,
  top = 15,
  window?: WindowUs,
  sourceOf: FrameSource = asIs,
): ProfileSummary {
  const { perNode, durationMs } = selfTimes(profile, window);
  const areas = new Map<string, number>();
  const fns = new Map<string, { area: string; ms: number }>();
  let sampledMs = 0;
  for (const n of profile.nodes) {
    const ms = perNode.get(n.id) ?? 0;
    if (!ms) continue;
    const src = sourceOf(n.callFrame.url, n.callFrame.lineNumber, n.callFrame.columnNumber ?? 0);
    const area = areaOf(src.url, n.callFrame.functionName);
    if (area === '(idle)') continue;
    sampledMs += ms;
    areas.set(area, (areas.get(area) ?? 0) + ms);
    const file = src.url.split('/').slice(-1)[0] ?? '';
    const fn = `${n.callFrame.functionName || '(anonymous)'} ${file}:${src.line + 1}`;
    const cur = fns.get(fn) ?? { area, ms: 0 };
    cur.ms += ms;
    fns.set(fn, cur);
  }
  // busy = samples not idle (a profile that stopped early counts the rest as idle)
  const busyMs = sampledMs;
  const pct = (ms: number) => Math.round((1000 * ms) / Math.max(busyMs, 1e-9)) / 10;
  return {
    durationMs: Math.round(durationMs),
    busyMs: Math.round(busyMs),
    byArea: [...areas].sort((a, b) => b[1] - a[1]).map(([area, ms]) => ({ area, ms: Math.round(ms), pct: pct(ms) })),
    topFunctions: [...fns]
      .sort((a, b) => b[1].ms - a[1].ms)
      .slice(0, top)
      .map(([fn, v]) => ({ fn, area: v.area, ms: Math.round(v.ms), pct: pct(v.ms) })),
  };
}

export function readProfile(file: string): CpuProfile {
  return JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
}

export function formatProfile(title: string, s: ProfileSummary, areas = 12): string {
  const lines = [
    `${title}: ${s.durationMs} ms profiled, ${s.busyMs} ms busy (${Math.round((100 * s.busyMs) / Math.max(1, s.durationMs))}% of one core)`,
  ];
  lines.push('  self time by area (% of busy):');
  for (const a of s.byArea.slice(0, areas))
    lines.push(`    ${a.area.padEnd(36)} ${String(a.ms).padStart(7)} ms ${a.pct.toFixed(1).padStart(5)}%`);
  lines.push('  hottest functions (self):');
  for (const f of s.topFunctions)
    lines.push(
      `    ${f.fn.slice(0, 60).padEnd(60)} ${String(f.ms).padStart(6)} ms ${f.pct.toFixed(1).padStart(5)}%  ${f.area}`,
    );
  return lines.join('\n');
}
