/**
 * Where the CPU went during a benchmark window: CPU seconds of named processes (from
 * /proc/<pid>/stat) and how busy the whole machine was (from /proc/stat). The scale benchmark uses
 * it to say why a fleet stops scaling: when the machine is near 100% busy, adding workers only
 * splits the same cores between more processes; when it is not, the limit is elsewhere.
 *
 * Linux only; on other systems every reading is undefined and the report says so.
 */
import { readFileSync } from 'node:fs';

/** USER_HZ: the unit of /proc times. 100 on every Linux architecture we run on. */
const TICKS_PER_S = 100;

/** utime + stime of one process (all its threads), seconds; undefined when it is gone. */
export function processCpuSeconds(pid: number): number | undefined {
  return statCpuSeconds(`/proc/${pid}/stat`);
}

/** utime + stime of one thread of a process (its main thread: tid = pid), seconds. */
export function threadCpuSeconds(pid: number, tid: number): number | undefined {
  return statCpuSeconds(`/proc/${pid}/task/${tid}/stat`);
}

function statCpuSeconds(file: string): number | undefined {
  try {
    const stat = readFileSync(file, 'utf8');
    // the command name (field 2) may contain spaces: split after its closing parenthesis
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state); utime and stime are fields 14 and 15
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_S;
  } catch {
    return undefined;
  }
}

/** Busy and total jiffies of the whole machine (all cores). */
function machineTicks(): { busy: number; total: number } | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const n = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = (n[3] ?? 0) + (n[4] ?? 0); // idle + iowait
    const total = n.reduce((a, b) => a + b, 0);
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}

export interface CpuWindowReport {
  seconds: number;
  /** machine busy fraction over the window, 0..1 (1 = every core busy all the time) */
  machineBusy?: number;
  /** CPU seconds per component over the window, and as cores used (cpu s / wall s) */
  components: Record<string, { cpuS: number; cores: number }>;
}

/**
 * Start a window over named groups of processes. `groups` is read again at the end, so a process
 * restarted during the window is counted from its start (its earlier CPU is lost, not doubled).
 */
export function startCpuWindow(groups: () => Record<string, number[]>, self = 'harness'): () => CpuWindowReport {
  const t0 = Date.now();
  const m0 = machineTicks();
  const self0 = process.cpuUsage();
  const start = new Map<number, number>();
  for (const pids of Object.values(groups())) for (const pid of pids) start.set(pid, processCpuSeconds(pid) ?? 0);
  return () => {
    const seconds = (Date.now() - t0) / 1000;
    const m1 = machineTicks();
    const components: CpuWindowReport['components'] = {};
    const add = (name: string, cpuS: number) =>
      (components[name] = { cpuS: round(cpuS), cores: round(seconds > 0 ? cpuS / seconds : 0) });
    const selfUsage = process.cpuUsage(self0);
    add(self, (selfUsage.user + selfUsage.system) / 1e6);
    for (const [name, pids] of Object.entries(groups())) {
      let sum = 0;
      for (const pid of pids) sum += Math.max(0, (processCpuSeconds(pid) ?? 0) - (start.get(pid) ?? 0));
      add(name, sum);
    }
    const machineBusy =
      m0 && m1 && m1.total > m0.total ? round((m1.busy - m0.busy) / (m1.total - m0.total)) : undefined;
    return { seconds: round(seconds), machineBusy, components };
  };
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

/** The pids of a process's children (Linux: /proc/<pid>/task/<pid>/children). */
export function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/**
 * CPU seconds of a process over time, sampled every `everyMs` until `stop()`: for the CPU spent
 * inside a window known only afterwards (the steady part of a run, without its start-up and idle
 * exit). `pid` is looked up on every sample (a wrapper's child appears after the wrapper starts).
 */
export function sampleCpu(
  pid: () => number | undefined,
  everyMs = 100,
): { stop(): void; at(ms: number): number | undefined } {
  const samples: Array<[number, number]> = [];
  const take = () => {
    const p = pid();
    const cpu = p === undefined ? undefined : processCpuSeconds(p);
    if (cpu !== undefined) samples.push([Date.now(), cpu]);
  };
  const timer = setInterval(take, everyMs);
  take();
  return {
    stop: () => clearInterval(timer),
    /** CPU seconds at wall time `ms`, interpolated between the samples around it */
    at(ms) {
      const after = samples.findIndex(([t]) => t >= ms);
      if (after <= 0) return after === 0 ? samples[0]![1] : undefined;
      const [t0, c0] = samples[after - 1]!;
      const [t1, c1] = samples[after]!;
      return c0 + ((c1 - c0) * (ms - t0)) / Math.max(1, t1 - t0);
    },
  };
}
