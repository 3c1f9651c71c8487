/**
 * The `convoy` CLI as a user runs it (the compiled dist/, `npm test` builds it first): bad input
 * exits 2 with a message naming the input and the fix; `convoy local up|status|down` with
 * --state-dir in a temp dir starts, reports and stops a real detached local stack.
 */
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');
const MAIN = path.join(ROOT, 'dist/coordinator/cli/main.js');
const dir = mkdtempSync(path.join(tmpdir(), 'convoy-cli-'));
const stateDir = path.join(dir, 'state');
const run = promisify(execFile);

/** Run the CLI in the temp dir with no CONVOY_* settings from the caller's environment. */
async function convoy(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CONVOY_')));
  try {
    const { stdout, stderr } = await run(process.execPath, [MAIN, ...args], {
      cwd: dir,
      env: { ...env, AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE: '1' },
      timeout: 30_000,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    if (typeof e.code !== 'number') throw err;
    return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

function stackPid(): number | undefined {
  const file = path.join(stateDir, 'stack.json');
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { pid: number }).pid : undefined;
}

beforeAll(() => {
  // `npm test` builds before vitest runs; a bare `npx vitest` on a fresh checkout builds here once.
  if (!existsSync(MAIN)) {
    const r = spawnSync('npx', ['tsc', '-p', '.'], { cwd: ROOT, stdio: 'inherit' });
    if (!existsSync(MAIN)) throw new Error(`could not build ${MAIN} (tsc exit ${r.status})`);
  }
}, 180_000);

afterAll(async () => {
  // stop the daemon this file started, whatever happened to the tests
  await convoy('local', 'down', '--state-dir', stateDir).catch(() => undefined);
  const pid = stackPid();
  if (pid) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('bad input', () => {
  it('no local stack and no config: exit 2, naming `convoy local up`', async () => {
    const r = await convoy('status', '--run', 'x', '--state-dir', stateDir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('convoy local up');
    expect(r.stderr).toContain(stateDir);
    expect(r.stderr).not.toMatch(/\n\s+at /); // a message, not a stack trace
  });

  it('malformed config file: exit 2, naming the file', async () => {
    const file = path.join(dir, 'broken.json');
    writeFileSync(file, '{ "remotes": ');
    const r = await convoy('status', '--run', 'x', '--config', file, '--state-dir', stateDir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(file);
    expect(r.stderr).toMatch(/not valid JSON/);
  });

  it('config file with an unknown key: exit 2, naming the file and the key', async () => {
    const file = path.join(dir, 'typo.json');
    writeFileSync(file, JSON.stringify({ remotes: { minio: { endpoint: 'http://127.0.0.1:9000', regoin: 'x' } } }));
    const r = await convoy('status', '--config', file, '--state-dir', stateDir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(file);
    expect(r.stderr).toContain('regoin');
  });

  it('a stack.json left by a killed daemon: exit 2 and "start it", not ECONNREFUSED', async () => {
    const staleDir = path.join(dir, 'stale');
    const dead = spawnSync(process.execPath, ['-e', 'process.pid']).pid!;
    const { mkdirSync } = await import('node:fs');
    mkdirSync(staleDir, { recursive: true });
    const state = {
      region: 'us-east-1',
      endpoints: { dynamodb: 'http://127.0.0.1:1', sqs: 'http://127.0.0.1:1' },
      itemsTable: 'convoy-items',
      metaTable: 'convoy-meta',
      queueName: 'convoy-work',
      dlqName: 'convoy-work-dlq',
    };
    writeFileSync(
      path.join(staleDir, 'stack.json'),
      JSON.stringify({ pid: dead, startedAtMs: 0, state, remotes: {}, endpoints: {} }),
    );
    const r = await convoy('status', '--run', 'x', '--state-dir', staleDir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('convoy local up');
    expect(r.stderr).toContain(String(dead));
    expect(r.stderr).not.toContain('ECONNREFUSED');
  });

  it('an unknown option or missing argument: exit 2 with help', async () => {
    const r = await convoy('requeue', '--state-dir', stateDir);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--run/);
  });
});

describe('convoy local up / status / down', () => {
  it('starts a detached stack in --state-dir, prints its endpoints, serves commands, and stops', async () => {
    const up = await convoy('local', 'up', '--state-dir', stateDir, '--in-memory');
    expect(up.code, up.stderr).toBe(0);
    expect(up.stdout).toMatch(/dynamodb\s+http:\/\/127\.0\.0\.1:\d+/);
    expect(up.stdout).toMatch(/sqs\s+http:\/\/127\.0\.0\.1:\d+/);
    expect(up.stdout).toMatch(/queue\s+http:\/\/\S+convoy-work/);
    expect(up.stdout).toMatch(/dlq\s+http:\/\/\S+convoy-work-dlq/);
    const pid = stackPid();
    expect(pid).toBeGreaterThan(0);

    const again = await convoy('local', 'up', '--state-dir', stateDir);
    expect(again.code).toBe(0);
    expect(stackPid()).toBe(pid); // idempotent: the running stack is reused

    const status = await convoy('local', 'status', '--state-dir', stateDir);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain(`pid ${pid}`);

    // commands now find the stack with no configuration at all
    const runs = await convoy('status', '--state-dir', stateDir);
    expect(runs.code, runs.stderr).toBe(0);
    const missing = await convoy('status', '--run', 'nope', '--state-dir', stateDir);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('"nope"');

    const down = await convoy('local', 'down', '--state-dir', stateDir);
    expect(down.code).toBe(0);
    expect(down.stdout).toContain('stopped');
    const after = await convoy('local', 'status', '--state-dir', stateDir);
    expect(after.code).toBe(3);
    expect(after.stdout).toContain('convoy local up');
    expect(existsSync(path.join(stateDir, 'stack.json'))).toBe(false);
  });
});
