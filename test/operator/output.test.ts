/**
 * What reaches the operator's terminal besides the output asked for: nothing when the reader of
 * a pipe has gone (no EPIPE crash), and never the credentials written into an endpoint URL.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, runCli } from '../helpers/cli.js';
import { operatorFixture, seedRun } from './fixture.js';

const fx = operatorFixture();

describe('output and secrets', () => {
  it('`convoy status | <reader that has exited>`: no EPIPE crash, exit 0, nothing on stderr', async () => {
    await seedRun(fx.env, 'piped', { pending: 2 });
    // `true` exits at once, so every write of status meets a closed pipe (async: the stack runs in this process)
    const r = await new Promise<{ status: number | null; stderr: string }>((resolve) => {
      const child = spawn(
        'bash',
        ['-c', `set -o pipefail; "${process.execPath}" "${CLI}" --config "${fx.config}" status --run piped | true`],
        {
          env: { ...process.env, CONVOY_LOG_LEVEL: 'warn' },
          stdio: ['ignore', 'ignore', 'pipe'],
        },
      );
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      child.on('exit', (status) => resolve({ status, stderr }));
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('credentials in a remote endpoint URL never reach stderr, in errors or logs', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'convoy-secret-'));
    const config = path.join(dir, 'convoy.config.json');
    writeFileSync(
      config,
      JSON.stringify({
        remotes: {
          bad: { endpoint: 'http://USER:SECRETPASS@127.0.0.1:1', accessKeyId: 'ak', secretAccessKey: 'sk-secret' },
        },
      }),
    );
    const r = await runCli(['plan', 's3-sync', '--from', 'bad:src-bucket', '--to', 'bad:dst-bucket', '--dry-run'], {
      config,
      env: { CONVOY_LOG_LEVEL: 'debug' },
    });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('bad:src-bucket'); // the failure is reported...
    expect(r.stderr).toContain('127.0.0.1:1');
    expect(r.stderr).not.toContain('SECRETPASS'); // ...without the password
    expect(r.stdout).not.toContain('SECRETPASS');
    expect(existsSync(path.join(dir, '.convoy'))).toBe(false);
  });
});
