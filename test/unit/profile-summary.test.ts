/**
 * `node dist/test/bench/profile-summary.js dir/*.cpuprofile`, as docs/uploads.md shows it: a V8
 * profile of the bundled CLI (the built `convoy`, in a child process) summarised with its frames
 * attributed through the bundle's source maps to the packages bundled into it; no file: exit 2.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(path.join(tmpdir(), 'convoy-profile-summary-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('profile-summary', () => {
  it('attributes the bundled CLI to the packages it bundles', () => {
    // commander and zod are bundled into the CLI's chunks (not external): without the source maps
    // their frames would be "convoy coordinator/cli"
    execFileSync(
      process.execPath,
      ['--cpu-prof', '--cpu-prof-interval', '100', `--cpu-prof-dir=${dir}`, 'dist/coordinator/cli/main.js', '--help'],
      { stdio: 'ignore' },
    );
    const out = execFileSync('sh', ['-c', `node dist/test/bench/profile-summary.js ${dir}/*.cpuprofile`], {
      encoding: 'utf8',
    });
    expect(out).toMatch(/self time by area/);
    expect(out, out).toMatch(/^\s+(commander|zod)\s+\d+ ms/m);
  });

  it('exits 2 naming what it needs when given no profile', () => {
    const r = spawnSync(process.execPath, ['dist/test/bench/profile-summary.js'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/give one or more \.cpuprofile files/);
  });
});
