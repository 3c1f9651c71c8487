/**
 * Benchmark results: per-tool figures from measured runs, the ratios against the best rclone,
 * the targets, a printed table and the JSON file. Pure except `writeResults`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { MiB } from './data.js';

export const TOOLS = ['convoy', 'rclone16', 'rclone64', 'awscli'] as const;
export type ToolName = (typeof TOOLS)[number];

/** One tool's figures for one case (snake_case: this is the JSON file's shape). */
export interface ToolResult {
  objects_per_s: number;
  mib_per_s: number;
  /** the tool's peak RSS; for convoy the worker process (the plan process is `plan_peak_rss_mib`) */
  peak_rss_mib: number;
  seconds: number;
  /** user + system CPU of the tool's processes */
  cpu_s: number;
  cpu_ms_per_object: number;
  /** CPU the emulator process (both S3 endpoints, SQS, DynamoDB) spent during the run */
  emulator_cpu_s?: number;
  ratio_vs_best_rclone?: number;
  /** every object present with the right size, and a sample byte-identical */
  verified: boolean;
  /** all runs' seconds when --repeat > 1 (the figures above are from the median run) */
  runs_s?: number[];
  note?: string;
  [extra: string]: unknown;
}

export interface ToolFailure {
  error: string;
  note?: string;
}

export type ToolEntry = ToolResult | ToolFailure;

export function isResult(e: ToolEntry | undefined): e is ToolResult {
  return !!e && 'objects_per_s' in e;
}

const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

export interface RunFigures {
  seconds: number;
  peakRssKiB: number;
  cpuS: number;
  emulatorCpuS?: number;
}

export function toolResult(
  objects: number,
  bytes: number,
  run: RunFigures,
  extra: Partial<ToolResult> = {},
): ToolResult {
  const s = Math.max(run.seconds, 1e-6);
  return {
    objects_per_s: round(objects / s, 1),
    mib_per_s: round(bytes / MiB / s, 1),
    peak_rss_mib: round(run.peakRssKiB / 1024, 1),
    seconds: round(run.seconds, 3),
    cpu_s: round(run.cpuS, 2),
    // CPU per object does not depend on how busy the machine was; wall-clock rates do
    cpu_ms_per_object: round((1000 * run.cpuS) / Math.max(objects, 1), 2),
    ...(run.emulatorCpuS !== undefined
      ? {
          emulator_cpu_s: round(run.emulatorCpuS, 2),
          emulator_cpu_ms_per_object: round((1000 * run.emulatorCpuS) / Math.max(objects, 1), 2),
        }
      : {}),
    verified: true,
    ...extra,
  };
}

/** The index of the median of `values` (the lower one for an even count). */
export function medianIndex(values: number[]): number {
  const order = values.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0]);
  return order[Math.floor((order.length - 1) / 2)]![1];
}

/** Set `ratio_vs_best_rclone` (objects/s over the faster rclone run) on every tool of a case. */
export function addRatios(tools: Partial<Record<ToolName, ToolEntry>>): number | undefined {
  const rclones = [tools.rclone16, tools.rclone64].filter(isResult);
  if (!rclones.length) return undefined;
  const best = Math.max(...rclones.map((r) => r.objects_per_s));
  for (const entry of Object.values(tools)) {
    if (isResult(entry)) entry.ratio_vs_best_rclone = round(entry.objects_per_s / best, 2);
  }
  return best;
}

export interface TargetCheck {
  what: string;
  target: string;
  measured: string;
  met: boolean | null;
}

/** The issue's targets: (a) >= 1.5x best rclone, (b) and (c) >= 1.0x, worker peak RSS < 300 MiB. */
export function checkTargets(cases: Record<string, Partial<Record<ToolName, ToolEntry>>>): TargetCheck[] {
  const want: Record<string, number> = { a: 1.5, b: 1.0, c: 1.0 };
  const out: TargetCheck[] = [];
  for (const [id, min] of Object.entries(want)) {
    const tools = cases[id];
    if (!tools) continue;
    const convoy = tools.convoy;
    const ratio = isResult(convoy) ? convoy.ratio_vs_best_rclone : undefined;
    out.push({
      what: `case ${id}: convoy objects/s vs best rclone`,
      target: `>= ${min.toFixed(1)}x`,
      measured:
        ratio === undefined
          ? convoy && !isResult(convoy)
            ? `failed: ${convoy.error.split('\n')[0]}`
            : 'not measured'
          : `${ratio.toFixed(2)}x`,
      met: ratio === undefined ? null : ratio >= min,
    });
  }
  const rss = Object.values(cases)
    .map((t) => t.convoy)
    .filter(isResult)
    .map((r) => r.peak_rss_mib);
  if (rss.length) {
    const worst = Math.max(...rss);
    out.push({
      what: 'convoy worker peak RSS (worst case)',
      target: '< 300 MiB',
      measured: `${worst.toFixed(0)} MiB`,
      met: worst < 300,
    });
  }
  return out;
}

export interface CaseInfo {
  description: string;
  objects: number;
  object_size: number;
  total_mib: number;
  from: string;
  to: string;
}

export interface BenchResults {
  benchmark: 's3';
  generated_at: string;
  machine: { cpus: number; node: string; loadavg_at_start: number[]; note: string };
  peers: Record<string, string>;
  settings: Record<string, unknown>;
  case_info: Record<string, CaseInfo>;
  cases: Record<string, Partial<Record<ToolName, ToolEntry>>>;
  targets: TargetCheck[];
  notes: string[];
}

const pad = (s: string, n: number) => s.padEnd(n);
const lpad = (s: string, n: number) => s.padStart(n);

/** The human table: one block per case. */
export function formatTable(results: Pick<BenchResults, 'cases' | 'case_info' | 'targets'>): string {
  const lines: string[] = [];
  for (const [id, tools] of Object.entries(results.cases)) {
    const info = results.case_info[id];
    lines.push(`case ${id}: ${info?.description ?? ''}`);
    lines.push(
      `  ${pad('tool', 10)}${lpad('seconds', 9)}${lpad('objects/s', 11)}${lpad('MiB/s', 9)}${lpad('peak RSS', 10)}${lpad('CPU s', 8)}${lpad('ms/obj', 8)}${lpad('emu CPU', 9)}${lpad('vs rclone', 11)}`,
    );
    for (const name of TOOLS) {
      const e = tools[name];
      if (!e) continue;
      if (!isResult(e)) {
        lines.push(`  ${pad(name, 10)}  FAILED: ${e.error.split('\n')[0]}`);
        continue;
      }
      lines.push(
        `  ${pad(name, 10)}${lpad(e.seconds.toFixed(2), 9)}${lpad(e.objects_per_s.toFixed(0), 11)}${lpad(e.mib_per_s.toFixed(1), 9)}` +
          `${lpad(e.peak_rss_mib.toFixed(0) + ' MiB', 10)}${lpad(e.cpu_s.toFixed(1), 8)}${lpad(e.cpu_ms_per_object.toFixed(2), 8)}${lpad(e.emulator_cpu_s?.toFixed(1) ?? '-', 9)}` +
          `${lpad(e.ratio_vs_best_rclone !== undefined ? e.ratio_vs_best_rclone.toFixed(2) + 'x' : '-', 11)}${e.note ? '  (' + e.note + ')' : ''}`,
      );
    }
    lines.push('');
  }
  if (results.targets.length) {
    lines.push('targets:');
    for (const t of results.targets) {
      const mark = t.met === null ? '??' : t.met ? 'ok' : 'MISSED';
      lines.push(`  ${pad(mark, 7)}${pad(t.what, 48)} target ${pad(t.target, 10)} measured ${t.measured}`);
    }
  }
  return lines.join('\n');
}

/** The markdown table for docs/benchmarks.md (same figures as the JSON). */
export function formatMarkdown(results: Pick<BenchResults, 'cases' | 'case_info'>): string {
  const lines: string[] = [];
  for (const [id, tools] of Object.entries(results.cases)) {
    lines.push(`**(${id}) ${results.case_info[id]?.description ?? ''}**`, '');
    lines.push(
      '| tool | seconds | objects/s | MiB/s | peak RSS MiB | CPU s | CPU ms/object | emulator CPU s | vs best rclone |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    );
    for (const name of TOOLS) {
      const e = tools[name];
      if (!e) continue;
      if (!isResult(e)) {
        lines.push(`| ${name} | failed: ${e.error.split('\n')[0]} | | | | | | | |`);
        continue;
      }
      lines.push(
        `| ${name}${e.note ? ` (${e.note})` : ''} | ${e.seconds.toFixed(2)} | ${e.objects_per_s.toFixed(0)} | ${e.mib_per_s.toFixed(1)} | ${e.peak_rss_mib.toFixed(0)} | ${e.cpu_s.toFixed(1)} | ${e.cpu_ms_per_object.toFixed(2)} | ${e.emulator_cpu_s?.toFixed(1) ?? '-'} | ${e.ratio_vs_best_rclone?.toFixed(2) ?? '-'}x |`,
      );
    }
    lines.push('');
  }
  return lines.join('\n');
}

export function writeResults(file: string, results: BenchResults): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(results, null, 2) + '\n');
}
