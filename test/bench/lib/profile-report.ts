/**
 * The `--profile` report: for each profiled convoy run, where the time went — requests per object
 * by endpoint and API action, CPU of the worker and of the emulators relative to the wall time,
 * and the CPU profiles' self time by area (worker main thread, worker threads, emulator daemon).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { formatProfile, readProfile, sourceMapped, summariseProfile, type WindowUs } from './cpu-profile.js';
import type { ToolResult } from './results.js';

export interface ProfiledRun {
  label: string;
  /** convoy's runs have the worker's profiles and request counts too; a peer's only the emulator's */
  tool: string;
  objects: number;
  result: ToolResult;
  /** the run's window on the monotonic clock (µs), to cut the emulator's profile to it */
  window: WindowUs;
}

/** `CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile` -> pid and thread id */
export function profileFileIds(name: string): { pid: number; thread: number } | undefined {
  const m = /^CPU\.\d+\.\d+\.(\d+)\.(\d+)\.\d+\.cpuprofile$/.exec(name);
  return m ? { pid: Number(m[1]), thread: Number(m[2]) } : undefined;
}

function profilesIn(dir: string): Array<{ file: string; pid: number; thread: number }> {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .map((name) => ({ name, ids: profileFileIds(name) }))
    .filter((p) => p.ids)
    .map((p) => ({ file: path.join(dir, p.name), ...p.ids! }));
}

export function formatRequestCounts(counts: Record<string, number>, objects: number): string[] {
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  const lines = [`  HTTP requests from the worker: ${total} (${(total / objects).toFixed(2)} per object)`];
  for (const [k, n] of Object.entries(counts).sort((a, b) => b[1] - a[1])) {
    lines.push(`    ${k.padEnd(48)} ${String(n).padStart(7)}  ${(n / objects).toFixed(3).padStart(7)} per object`);
  }
  return lines;
}

export function profileReport(profileDir: string, emulatorPid: number, runs: ProfiledRun[]): string {
  const out: string[] = ['=== profiles (convoy; the emulator under every tool) ==='];
  const sourceOf = sourceMapped();
  for (const run of runs) {
    const dir = path.join(profileDir, run.label);
    const r = run.result;
    const workerCpu = Number(r.worker_cpu_s ?? r.cpu_s);
    out.push(
      `run ${run.label}: ${run.objects} objects in ${r.seconds.toFixed(2)} s (${r.objects_per_s.toFixed(0)} objects/s; profiling slows it down)`,
      `  CPU during the run: worker ${workerCpu.toFixed(2)} s (${((100 * workerCpu) / r.seconds).toFixed(0)}% of one core), ` +
        `plan ${Number(r.plan_cpu_s ?? 0).toFixed(2)} s, emulators ${r.emulator_cpu_s?.toFixed(2) ?? '?'} s (${r.emulator_cpu_s !== undefined ? ((100 * r.emulator_cpu_s) / r.seconds).toFixed(0) : '?'}% of one core)`,
      `  per object: worker ${((1000 * workerCpu) / run.objects).toFixed(2)} ms CPU, emulators ${r.emulator_cpu_s !== undefined ? ((1000 * r.emulator_cpu_s) / run.objects).toFixed(2) : '?'} ms CPU`,
    );
    const countsFile = path.join(dir, 'http-counts.json');
    // (a peer's run has only what it cost the emulator, below)
    if (run.tool === 'convoy' && existsSync(countsFile)) {
      const { counts } = JSON.parse(readFileSync(countsFile, 'utf8')) as { counts: Record<string, number> };
      out.push(...formatRequestCounts(counts, run.objects));
    } else if (run.tool === 'convoy') out.push('  (no HTTP request counts: the worker did not exit normally)');
    const profiles = profilesIn(dir);
    for (const p of profiles.sort((a, b) => a.thread - b.thread)) {
      const title =
        p.thread === 0 ? `  worker main thread (pid ${p.pid})` : `  worker thread ${p.thread} (pid ${p.pid})`;
      const s = summariseProfile(readProfile(p.file), 15, undefined, sourceOf);
      if (p.thread !== 0 && s.busyMs < 50) continue; // idle piscina threads
      out.push(formatProfile(title, s).replace(/^/gm, '  '));
    }
    const emu = profilesIn(path.join(profileDir, 'emulator')).find((p) => p.pid === emulatorPid && p.thread === 0);
    if (emu)
      out.push(
        formatProfile(
          `  emulator daemon (pid ${emu.pid}), during this run only`,
          summariseProfile(readProfile(emu.file), 15, run.window),
        ).replace(/^/gm, '  '),
      );
    else out.push('  (no emulator profile written)');
  }
  return out.join('\n');
}
