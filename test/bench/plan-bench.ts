/**
 * `npm run bench:plan`: planning memory. Plans an s3-sync run over a flat bucket of 10,000 and of
 * 100,000 keys (the coordinator streams the whole listing: --list-mode coordinator), each in its
 * own `convoy plan` process under GNU time, and prints peak RSS, items and keys/s. Flat memory
 * means the 100k plan peaks where the 10k plan does. Writes test/bench/results/plan.json.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { makeS3Client } from '../../shared/s3-clients.js';
import { runMeasured } from './lib/command.js';
import { BodyFactory, caseObjects, populateBucket } from './lib/data.js';
import { convoyArgv, convoyEnv, REPO_ROOT, startBenchStack } from './lib/stack.js';

async function main(): Promise<void> {
  const work = mkdtempSync(path.join(tmpdir(), 'convoy-plan-bench-'));
  const stack = await startBenchStack(path.join(work, 'state'), [], { cwd: work });
  const results: Record<
    string,
    { keys: number; items: number; seconds: number; keys_per_s: number; peak_rss_mib: number }
  > = {};
  try {
    const s3 = makeS3Client({ ...stack.stack.remotes.local!, name: 'local' });
    const bodies = new BodyFactory(64);
    for (const keys of [10_000, 100_000]) {
      const bucket = `plan-${keys}`;
      process.stdout.write(`writing ${keys} keys into ${bucket}...\n`);
      // one prefix: a flat bucket, the worst case for the coordinator (nothing to hand to the fleet)
      await populateBucket(s3, bucket, caseObjects(`k${keys}`, keys, 16, 1), bodies, 64);
      const r = await runMeasured(
        convoyArgv(
          stack.stateDir,
          'plan',
          's3-sync',
          '--from',
          `local:${bucket}`,
          '--to',
          `local:${bucket}-copy`,
          '--create-buckets',
          '--list-mode',
          'coordinator',
          '--range-keys',
          '500',
          '--run',
          `plan-${keys}`,
          '--json',
        ),
        {
          logDir: work,
          label: `plan-${keys}`,
          env: convoyEnv({ CONVOY_LOG_LEVEL: 'warn' }),
          cwd: work,
          timeoutMs: 600_000,
        },
      );
      const out = JSON.parse((await import('node:fs')).readFileSync(r.stdoutPath, 'utf8'));
      results[String(keys)] = {
        keys,
        items: out.itemsEnqueued,
        seconds: r.wallMs / 1000,
        keys_per_s: Math.round(keys / (r.wallMs / 1000)),
        peak_rss_mib: Math.round((r.peakRssKiB / 1024) * 10) / 10,
      };
      process.stdout.write(
        `  ${keys} keys -> ${out.itemsEnqueued} items in ${(r.wallMs / 1000).toFixed(1)} s, peak RSS ${(r.peakRssKiB / 1024).toFixed(1)} MiB\n`,
      );
    }
    s3.destroy();
  } finally {
    await stack.down();
    rmSync(work, { recursive: true, force: true });
  }
  const ratio = results['100000']!.peak_rss_mib / results['10000']!.peak_rss_mib;
  process.stdout.write(`peak RSS 100k / 10k = ${ratio.toFixed(2)} (flat memory: close to 1)\n`);
  const dir = path.join(REPO_ROOT, 'test/bench/results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    path.join(dir, 'plan.json'),
    JSON.stringify(
      { measured_at: new Date().toISOString(), cases: results, rss_ratio_100k_vs_10k: Math.round(ratio * 100) / 100 },
      null,
      2,
    ) + '\n',
  );
}

main().catch((err) => {
  process.stderr.write(`bench:plan failed: ${(err as Error).stack}\n`);
  process.exitCode = 1;
});
