/**
 * `npm run demo:s3`: a real s3-sync migration on the embedded local stack, through the real CLI.
 * Two S3 endpoints (two fauxqs servers standing for MinIO and AWS S3), the four
 * lakehouse buckets with generated data, a dry run, the run itself with two workers,
 * then `status`, `verify` and the monitor's summary.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeS3Client } from '../../shared/s3-clients.js';
import { lakehouseObjects, putObjects, type GeneratedObject } from '../fixtures/s3-data.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const CLI = fileURLToPath(new URL('../../coordinator/cli/main.js', import.meta.url));
const stateDir = mkdtempSync(path.join(tmpdir(), 'convoy-demo-'));

function convoy(args: string[], opts: { quiet?: boolean } = {}): Promise<number> {
  if (!opts.quiet) process.stdout.write(`\n$ convoy ${args.join(' ')}\n`);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, '--state-dir', stateDir, ...args], {
      stdio: ['ignore', opts.quiet ? 'ignore' : 'inherit', 'inherit'],
      env: { ...process.env, CONVOY_LOG_LEVEL: process.env.CONVOY_LOG_LEVEL ?? 'warn' },
    });
    child.on('exit', (code) => resolve(code ?? 1));
  });
}

function must(code: number, what: string): void {
  if (code !== 0) throw new Error(`${what} exited with ${code}`);
}

async function main(): Promise<void> {
  const started = Date.now();
  must(await convoy(['local', 'up', '--extra-s3', 'minio', '--in-memory']), 'local up');
  try {
    const stack = JSON.parse(readFileSync(path.join(stateDir, 'stack.json'), 'utf8'));
    const minio = makeS3Client({ ...stack.remotes.minio, name: 'minio' });
    const buckets: Record<string, GeneratedObject[]> = {
      bronze: lakehouseObjects({ tables: 6, partsPerTable: 100, partSize: 24 * 1024 }),
      silver: lakehouseObjects({ tables: 4, partsPerTable: 60, partSize: 48 * 1024 }),
      gold: lakehouseObjects({ tables: 3, partsPerTable: 40, partSize: 64 * 1024 }),
      checkpoints: [
        ...Array.from({ length: 12 }, (_, i) => ({
          key: `simulation/checkpoint-${String(i).padStart(4, '0')}.json.gz`,
          size: 200_000 + i * 1000,
          contentType: 'application/gzip',
        })),
        { key: 'simulation/latest.json.gz', size: 212_000, contentType: 'application/gzip' },
        { key: 'simulation/state-dump.bin', size: 24 * 1024 * 1024, contentType: 'application/octet-stream' },
      ],
    };
    process.stdout.write('\ngenerating data in the "minio" endpoint:\n');
    for (const [name, objs] of Object.entries(buckets)) {
      await putObjects(minio, `rideshare-${name}`, objs);
      process.stdout.write(
        `  rideshare-${name}: ${objs.length} objects, ${(objs.reduce((a, o) => a + o.size, 0) / 1024 / 1024).toFixed(1)} MiB\n`,
      );
    }
    minio.destroy();

    const pair = [
      '--from',
      'minio:rideshare-{}',
      '--to',
      'local:rideshare-123456789012-{}',
      '--buckets',
      'bronze',
      'silver',
      'gold',
      'checkpoints',
      '--create-buckets',
    ];
    must(await convoy(['plan', 's3-sync', ...pair, '--dry-run']), 'dry run');
    must(await convoy(['plan', 's3-sync', ...pair, '--run', 'demo-sync']), 'plan');
    process.stdout.write(
      '\n$ convoy worker --instance demo-1 & convoy worker --instance demo-2   (two workers, each one process per core)\n',
    );
    const workers = await Promise.all([
      convoy(['worker', '--instance', 'demo-1', '--exit-when-idle', '2000', '--wait-seconds', '1'], { quiet: true }),
      convoy(['worker', '--instance', 'demo-2', '--exit-when-idle', '2000', '--wait-seconds', '1'], { quiet: true }),
    ]);
    workers.forEach((code, i) => must(code, `worker ${i + 1}`));
    must(await convoy(['status', '--run', 'demo-sync']), 'status');
    const verified = await convoy(['verify', '--run', 'demo-sync']);
    must(await convoy(['monitor', '--run', 'demo-sync']), 'monitor');
    process.stdout.write(
      `\ndemo finished in ${((Date.now() - started) / 1000).toFixed(1)} s; verify ${verified === 0 ? 'clean' : 'FOUND DIFFERENCES'}\n`,
    );
    process.exitCode = verified;
  } finally {
    await convoy(['local', 'down'], { quiet: true });
    rmSync(stateDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`demo failed: ${(err as Error).message}\n`);
  process.exitCode = 1;
});
