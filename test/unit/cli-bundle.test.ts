/**
 * The `convoy` command is a bundle (infra/build/bundle-cli.mjs): what the bin, the CDK user-data
 * and the tests start, dist/coordinator/cli/main.js, loads about a hundred files instead of the
 * ~860 modules it loaded one by one (their loading was most of a process start's CPU).
 * Counted by the module probe of test/processes/ (every ES module the loader loads, and every
 * CommonJS one), not timed. And what a command that only reads the state tables loads: no S3
 * client, and zod without its 60-odd locales (`import * as z`, which the bundler can tree-shake).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

const PROBE = new URL('../processes/module-probe.mjs', import.meta.url).href;

interface Loaded {
  files: number;
  sdk: number;
  /** modules loaded per package name */
  packages: Record<string, number>;
  stdout: string;
}

async function filesLoaded(args: string[], exitCode = 0): Promise<Loaded> {
  const dir = mkdtempSync(path.join(tmpdir(), 'convoy-bundle-'));
  try {
    const r = await runCli(args, {
      env: { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import "${PROBE}"`, CONVOY_TEST_MODULE_PROBE_DIR: dir },
    });
    expect(r.code, r.stderr).toBe(exitCode);
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

  it("`convoy status` loads neither the S3 client nor zod's locales (a state read: DynamoDB only)", async () => {
    // no stack in an empty state dir: exit 2 after the command's modules are loaded
    const dir = mkdtempSync(path.join(tmpdir(), 'convoy-empty-state-'));
    try {
      const status = await filesLoaded(['--state-dir', dir, 'status'], 2);
      expect(status.packages['@aws-sdk/client-dynamodb']).toBeGreaterThan(0);
      // before (2026-12-03): one each (shared/clients.ts built S3 clients beside the state
      // clients; report.ts imported lib-storage's Upload at the top)
      expect(status.packages['@aws-sdk/client-s3']).toBeUndefined();
      expect(status.packages['@aws-sdk/lib-storage']).toBeUndefined();
      // before: 95 zod modules, 64 of them locales (`import { z } from 'zod'` kept the namespace
      // whole); now 18
      expect(status.packages.zod).toBeGreaterThan(0);
      expect(status.packages.zod).toBeLessThan(60);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
