/**
 * Runs the docs' command lines as an operator would type them: in bash, in a working directory of
 * the test's own (where `convoy.config.json` lives, so `--config convoy.config.json` is literal),
 * with `convoy` on PATH as the built CLI (dist/) and CONVOY_STATE_DIR naming a fresh state
 * directory, so `convoy local up` starts a local stack of the test's own on free ports.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { REPO } from './doc-commands.js';

export interface ShellResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface Background extends ChildProcess {
  /** stdout and stderr as they came */
  output(): string;
  stdoutText(): string;
  stderrText(): string;
  exitCode: number | null;
  /** resolves with the exit code once the process has exited */
  exited: Promise<number | null>;
}

export class DocShell {
  readonly dir = mkdtempSync(path.join(tmpdir(), 'convoy-docs-'));
  /** the operator's working directory */
  readonly cwd = path.join(this.dir, 'work');
  readonly stateDir = path.join(this.dir, 'state');
  readonly bin = path.join(this.dir, 'bin');
  private readonly children: Background[] = [];

  private extraEnv: NodeJS.ProcessEnv = {};

  constructor() {
    mkdirSync(this.cwd);
    mkdirSync(this.bin);
    // `convoy` (the package's bin) is the built CLI; `npx convoy` in a doc means the same binary
    this.tool(
      'convoy',
      `#!/bin/sh\nexec "${process.execPath}" "${path.join(REPO, 'dist/coordinator/cli/main.js')}" "$@"\n`,
    );
  }

  /** Put an executable script on the shell's PATH (stand-ins for tools outside the test, e.g. `aws`). */
  tool(name: string, script: string): string {
    const file = path.join(this.bin, name);
    writeFileSync(file, script);
    chmodSync(file, 0o755);
    return file;
  }

  setEnv(env: NodeJS.ProcessEnv): void {
    this.extraEnv = { ...this.extraEnv, ...env };
  }

  get env(): NodeJS.ProcessEnv {
    return {
      ...process.env,
      PATH: `${this.bin}:${process.env.PATH}`,
      CONVOY_STATE_DIR: this.stateDir,
      CONVOY_LOG_LEVEL: 'warn',
      CONVOY_CONFIG: undefined,
      ...this.extraEnv,
    };
  }

  /** The only rewrite of a doc's text: `npx convoy` (the repo's bin) is `convoy` here. */
  static substitute(text: string): string {
    return text.replace(/\bnpx convoy\b/g, 'convoy');
  }

  /** Run a doc's command line to its end. */
  run(text: string, opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<ShellResult> {
    const child = this.start(text, opts);
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    return child.exited.then((code) => {
      clearTimeout(timer);
      if (code === null) throw new Error(`\`${text}\` did not finish in time (killed); output:\n${child.output()}`);
      return { code, stdout: child.stdoutText(), stderr: child.stderrText() };
    });
  }

  /** Start a long-running doc command (a worker, `monitor --watch`) in the background. */
  start(text: string, opts: { env?: NodeJS.ProcessEnv } = {}): Background {
    // a simple command is exec'd, so a signal the test sends reaches convoy itself, as systemd's
    // would; a compound line (&&, ;, |, &) runs as the doc wrote it
    const line = DocShell.substitute(text);
    const script = /&&|;|\||&/.test(line) ? line : `exec ${line}`;
    const child = spawn('bash', ['-c', script], {
      cwd: this.cwd,
      env: { ...this.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let stdoutText = '';
    let stderrText = '';
    child.stdout!.on('data', (d) => {
      out += d;
      stdoutText += d;
    });
    child.stderr!.on('data', (d) => {
      out += d;
      stderrText += d;
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const bg = Object.assign(child, {
      output: () => out,
      stdoutText: () => stdoutText,
      stderrText: () => stderrText,
      exited,
    }) as unknown as Background;
    this.children.push(bg);
    return bg;
  }

  writeConfig(config: unknown): string {
    const file = path.join(this.cwd, 'convoy.config.json');
    writeFileSync(file, JSON.stringify(config, null, 2));
    return file;
  }

  /** The stack.json `convoy local up` wrote. */
  stackFile(): {
    pid: number;
    state: Record<string, unknown>;
    remotes: Record<string, Record<string, unknown>>;
    endpoints: Record<string, string>;
  } {
    return JSON.parse(readFileSync(path.join(this.stateDir, 'stack.json'), 'utf8'));
  }

  /** Stop what this shell started (children still running, the local stack) and remove its files. */
  async close(): Promise<void> {
    for (const c of this.children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    let pid: number | undefined;
    try {
      pid = this.stackFile().pid;
    } catch {
      pid = undefined;
    }
    await this.run('convoy local down', { timeoutMs: 20_000 }).catch(() => undefined);
    if (pid) {
      try {
        process.kill(pid, 'SIGKILL'); // only if `local down` could not stop it
      } catch {
        /* already gone */
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
