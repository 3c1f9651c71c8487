/**
 * The `convoy` command is a bundle (infra/build/bundle-cli.mjs): what the bin, the CDK user-data
 * and the tests start, dist/coordinator/cli/main.js, loads about a hundred files instead of the
 * ~860 modules it loaded one by one (their loading was most of a process start's CPU).
 * Counted by the module probe of test/processes/ (every ES module the loader loads, and every
 * CommonJS one), not timed.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

const PROBE = new URL('../processes/module-probe.mjs', import.meta.url).href;

async function filesLoaded(args: string[]): Promise<{ files: number; sdk: number; stdout: string }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'convoy-bundle-'));
  try {
    const r = await runCli(args, {
      env: { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import "${PROBE}"`, CONVOY_TEST_MODULE_PROBE_DIR: dir },
    });
    expect(r.code, r.stderr).toBe(0);
    const [report] = readdirSync(dir).filter((f) => f.endsWith('.json'));
    return { ...JSON.parse(readFileSync(path.join(dir, report!), 'utf8')), stdout: r.stdout };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('the convoy command is a bundle', () => {
  it('`convoy --help` (every command built) loads under 150 files, the AWS SDK bundled into them', async () => {
    const all = await filesLoaded(['--help']);
    expect(all.stdout).toContain('worker [options]');
    // tsc's output run unbundled: 862 files for the same command line (2026-12-03)
    expect(all.files).toBeLessThan(150);
    expect(all.sdk).toBeGreaterThan(100);
  }, 60_000);
});
