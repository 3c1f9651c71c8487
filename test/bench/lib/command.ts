/**
 * Running a benchmarked command: wall time, peak RSS and CPU time of the child, measured by
 * GNU time (`/usr/bin/time -f ... -o file`), which reads the kernel's rusage of the process it
 * waited for. That is exact (sampling /proc/<pid>/status VmHWM would miss a peak just before
 * exit) and costs nothing while the command runs.
 *
 * Output goes to log files, not to memory: a chatty child must not skew the benchmark process.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

export const GNU_TIME = '/usr/bin/time';

/** `%M` max RSS (KiB), `%U`/`%S` user/system CPU seconds, `%e` elapsed seconds. */
const TIME_FORMAT = 'convoy-bench-rusage %M %U %S %e';

export interface Rusage {
  peakRssKiB: number;
  userCpuS: number;
  sysCpuS: number;
  elapsedS: number;
}

/**
 * Parse the file GNU time wrote. When the child died of a signal, time writes a
 * "Command terminated by signal N" line first; the figures are still on the tagged line.
 */
export function parseGnuTime(text: string): Rusage | undefined {
  const line = text.split('\n').find((l) => l.startsWith('convoy-bench-rusage '));
  if (!line) return undefined;
  const [, rss, user, sys, elapsed] = line.trim().split(/\s+/);
  const nums = [rss, user, sys, elapsed].map(Number);
  if (nums.some((n) => !Number.isFinite(n))) return undefined;
  return { peakRssKiB: nums[0]!, userCpuS: nums[1]!, sysCpuS: nums[2]!, elapsedS: nums[3]! };
}

export interface MeasuredResult extends Rusage {
  command: string;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** wall time measured here, from spawn to exit (ms) */
  wallMs: number;
  startedAtMs: number;
  endedAtMs: number;
  stdoutPath: string;
  stderrPath: string;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** directory for <label>.stdout / <label>.stderr / <label>.rusage */
  logDir: string;
  label: string;
  /** kill the command (its whole process group) after this long */
  timeoutMs?: number;
}

export interface RunningCommand {
  /** pid of GNU time; the command is its only child, in the same process group */
  pid: number;
  startedAtMs: number;
  done: Promise<MeasuredResult>;
  /** stop it (SIGTERM to its process group, i.e. only what this harness started) */
  kill(signal?: NodeJS.Signals): void;
}

export function quoteForDisplay(argv: string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/** Start `argv` under GNU time; resolves `done` when it exits (never rejects on a non-zero exit). */
export function startMeasured(argv: string[], opts: RunOptions): RunningCommand {
  if (!existsSync(GNU_TIME)) throw new Error(`${GNU_TIME} is missing: install it with \`apt-get install -y time\``);
  const base = path.join(opts.logDir, opts.label);
  const rusagePath = `${base}.rusage`;
  const stdoutPath = `${base}.stdout`;
  const stderrPath = `${base}.stderr`;
  const out = createWriteStream(stdoutPath);
  const err = createWriteStream(stderrPath);
  const startedAtMs = Date.now();
  const child = spawn(GNU_TIME, ['-f', TIME_FORMAT, '-o', rusagePath, ...argv], {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    // own process group, so a timeout can stop the command and anything it started
    detached: true,
  });
  child.stdout!.pipe(out);
  child.stderr!.pipe(err);
  const kill = (signal: NodeJS.Signals = 'SIGTERM') => {
    try {
      if (child.pid) process.kill(-child.pid, signal);
    } catch {
      /* already gone */
    }
  };
  let timer: NodeJS.Timeout | undefined;
  if (opts.timeoutMs) timer = setTimeout(() => kill('SIGKILL'), opts.timeoutMs);
  const done = new Promise<MeasuredResult>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      const endedAtMs = Date.now();
      const usage = existsSync(rusagePath) ? parseGnuTime(readFileSync(rusagePath, 'utf8')) : undefined;
      // GNU time exits with the command's status (or 128+signal when the command was killed)
      resolve({
        command: quoteForDisplay(argv),
        exitCode: code,
        signal,
        wallMs: endedAtMs - startedAtMs,
        startedAtMs,
        endedAtMs,
        stdoutPath,
        stderrPath,
        ...(usage ?? { peakRssKiB: 0, userCpuS: 0, sysCpuS: 0, elapsedS: (endedAtMs - startedAtMs) / 1000 }),
      });
    });
  });
  return { pid: child.pid!, startedAtMs, done, kill };
}

/** Run to completion; throws with the tail of stderr when the command fails. */
export async function runMeasured(argv: string[], opts: RunOptions): Promise<MeasuredResult> {
  const r = await startMeasured(argv, opts).done;
  if (r.exitCode !== 0)
    throw new Error(
      `command failed (exit ${r.exitCode ?? r.signal}): ${r.command}\n${tail(r.stderrPath)}${tail(r.stdoutPath)}`,
    );
  return r;
}

/** The last lines of a log file, for error messages. */
export function tail(file: string, lines = 15): string {
  if (!existsSync(file)) return '';
  const text = readFileSync(file, 'utf8').trimEnd();
  return text ? text.split('\n').slice(-lines).join('\n') + '\n' : '';
}

/** Run a short helper command (no measurement) and return its stdout; throws on failure. */
export function runQuiet(argv: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (code) =>
      code === 0
        ? resolve(stdout)
        : reject(new Error(`${quoteForDisplay(argv)} exited ${code}: ${(stderr || stdout).trim().slice(-2000)}`)),
    );
  });
}

/** CPU seconds (user + system) a live process has used so far, from /proc/<pid>/stat. */
export function processCpuSeconds(pid: number, clockTicksPerSecond = 100): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name (field 2) may contain spaces; fields after the closing paren are fixed
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return (utime + stime) / clockTicksPerSecond;
  } catch {
    return undefined;
  }
}

/** Peak RSS so far of a live process (VmHWM), in KiB. */
export function processPeakRssKiB(pid: number): number | undefined {
  try {
    const m = /VmHWM:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** The pino log lines with this message. */
export function logEntries(file: string, msg: string): Array<{ msg?: string; time?: number; slot?: number }> {
  try {
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { msg?: string; time?: number; slot?: number })
      .filter((entry) => entry.msg === msg);
  } catch {
    return []; // no log
  }
}

/** The time (ms) of the first pino log line with this message, if any. */
export function logTime(file: string, msg: string): number | undefined {
  return logEntries(file, msg)[0]?.time;
}
