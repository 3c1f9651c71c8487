/**
 * Log lines as people and machines get them: readable `HH:MM:SS LEVEL message key=value` lines
 * when stderr is a terminal (a real pseudo-terminal, through `script`), pino JSON when it is not
 * or when CONVOY_LOG_FORMAT=json / --log-format json asks for it.
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { CLI, runCli } from '../helpers/cli.js';
import { operatorFixture, seedRun } from './fixture.js';

const fx = operatorFixture();

/** Run the CLI with a terminal as stdout and stderr (util-linux `script`); returns what the terminal showed. */
function inTerminal(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; screen: string }> {
  const quote = (a: string) => `'${a.replaceAll("'", "'\\''")}'`;
  const command = [process.execPath, CLI, '--config', fx.config, ...args].map(quote).join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qec', command, '/dev/null'], {
      env: { ...process.env, CONVOY_LOG_LEVEL: 'info', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    child.stdin.end();
    let screen = '';
    child.stdout.on('data', (d) => (screen += d));
    child.stderr.on('data', (d) => (screen += d));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, screen: screen.replaceAll('\r', '') }));
  });
}

const READABLE = /^\d\d:\d\d:\d\d INFO {2}reconcile complete runId=logs /m;
const JSON_LINE = /^\{"level":30,.*"msg":"reconcile complete"/m;

describe('log format', () => {
  it('readable lines on a terminal; JSON through a pipe, or on a terminal when asked for', async () => {
    await seedRun(fx.env, 'logs', { pending: 1 });
    const tty = await inTerminal(['reconcile', '--run', 'logs']);
    expect(tty.code, tty.screen).toBe(0);
    expect(tty.screen).toMatch(READABLE);
    expect(tty.screen).not.toContain('{"level"');

    const piped = await runCli(['reconcile', '--run', 'logs'], {
      config: fx.config,
      env: { CONVOY_LOG_LEVEL: 'info' },
    });
    expect(piped.code, piped.stderr).toBe(0);
    expect(piped.stderr).toMatch(JSON_LINE);

    const envJson = await inTerminal(['reconcile', '--run', 'logs'], { CONVOY_LOG_FORMAT: 'json' });
    expect(envJson.screen).toMatch(JSON_LINE);
    const flagJson = await inTerminal(['--log-format', 'json', 'reconcile', '--run', 'logs']);
    expect(flagJson.screen).toMatch(JSON_LINE);
    expect(flagJson.screen).not.toMatch(READABLE);
  });

  it('an unknown format: exit 2 naming the allowed ones', async () => {
    const r = await runCli(['--log-format', 'xml', 'status'], { config: fx.config });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--log-format "xml".*json.*pretty/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
