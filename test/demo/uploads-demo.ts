/**
 * `npm run demo`: a real uploads migration (legacy uploads re-indexed) on the embedded local stack,
 * through the real CLI: `local up` (dynalite, fauxqs and the UCAN peers: the real upload-api, an
 * indexing service, a gateway), a generated data set (customers, spaces, uploads as real CAR
 * shards, some of them broken), a dry run, the migration with two workers, `status`,
 * `verify`, one broken upload looked at with `uploads show`, a verify-only pass that finds
 * nothing missing, and the monitor's summary.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const CLI = fileURLToPath(new URL('../../coordinator/cli/main.js', import.meta.url));
const stateDir = mkdtempSync(path.join(tmpdir(), 'convoy-uploads-demo-'));
const UPLOADS = Number(process.env.DEMO_UPLOADS ?? 200);

function convoy(
  args: string[],
  opts: { quiet?: boolean; capture?: boolean; logLevel?: string } = {},
): Promise<{ code: number; out: string }> {
  if (!opts.quiet) process.stdout.write(`\n$ convoy ${args.join(' ')}\n`);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, '--state-dir', stateDir, ...args], {
      stdio: ['ignore', opts.capture ? 'pipe' : opts.quiet ? 'ignore' : 'inherit', 'inherit'],
      env: { ...process.env, CONVOY_LOG_LEVEL: opts.logLevel ?? process.env.CONVOY_LOG_LEVEL ?? 'warn' },
    });
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (!opts.quiet) process.stdout.write(d);
    });
    child.on('exit', (code) => resolve({ code: code ?? 1, out }));
  });
}

async function must(p: Promise<{ code: number; out: string }>, what: string): Promise<string> {
  const { code, out } = await p;
  if (code !== 0) throw new Error(`${what} exited with ${code}`);
  return out;
}

const twoWorkers = (extra: string[] = []) =>
  Promise.all(
    ['demo-1', 'demo-2'].map((instance) =>
      // failed uploads are expected here (the data set has broken ones): `status` and `monitor --failed` show them
      must(
        convoy(
          [
            'worker',
            '--instance',
            instance,
            '--concurrency',
            '32',
            '--exit-when-idle',
            '1500',
            '--wait-seconds',
            '1',
            ...extra,
          ],
          { quiet: true, logLevel: 'fatal' },
        ),
        `worker ${instance}`,
      ),
    ),
  );

async function main(): Promise<void> {
  const started = Date.now();
  await must(convoy(['local', 'up', '--in-memory']), 'local up');
  try {
    await must(
      convoy([
        'local',
        'seed',
        'uploads',
        '--customers',
        '5',
        '--spaces',
        '20',
        '--uploads',
        String(UPLOADS),
        '--large',
        '1',
        '--large-size',
        '40',
        '--broken-rate',
        '0.03',
      ]),
      'seed',
    );

    await must(convoy(['plan', 'uploads', '--dry-run', '--run', 'demo-dry']), 'dry-run plan');
    process.stdout.write(
      '\n$ convoy worker --instance demo-1 & convoy worker --instance demo-2   (two workers, each one process per core)\n',
    );
    await twoWorkers();
    await must(convoy(['verify', '--run', 'demo-dry']), 'dry-run summary');

    const t0 = Date.now();
    await must(convoy(['plan', 'uploads', '--run', 'demo']), 'plan');
    process.stdout.write(
      '\n$ convoy worker --instance demo-1 & convoy worker --instance demo-2   (two workers, each one process per core)\n',
    );
    await twoWorkers();
    const migratedS = (Date.now() - t0) / 1000;
    await must(convoy(['status', '--run', 'demo']), 'status');
    const verified = await convoy(['verify', '--run', 'demo']);

    await must(convoy(['monitor', '--run', 'demo', '--failed']), 'monitor --failed');
    const failed = await convoy(
      ['monitor', '--run', 'demo', '--failed', '--json', '--limit', '1', '--class', 'SHARD_CORRUPT'],
      { quiet: true, capture: true },
    );
    const first = (JSON.parse(failed.out || '{}') as { items?: Array<{ itemId: string }> }).items?.[0]?.itemId;
    if (first) {
      const [, space, root] = /^upload:(did:key:[^:]+):(.+)$/.exec(first) ?? [];
      if (space && root)
        await must(convoy(['uploads', 'show', '--space', space, '--cid', root, '--run', 'demo']), 'uploads show');
    }

    await must(convoy(['plan', 'uploads', '--verify-only', '--run', 'demo-check']), 'verify-only plan');
    await twoWorkers();
    const check = await convoy(['verify', '--run', 'demo-check']);
    await must(convoy(['monitor', '--run', 'demo']), 'monitor');
    process.stdout.write(
      `\ndemo finished in ${((Date.now() - started) / 1000).toFixed(1)} s (migration of ${UPLOADS} uploads: ${migratedS.toFixed(1)} s with 2 workers); ` +
        `verify: ${verified.code === 0 ? 'clean' : 'only the broken uploads failed (see the report)'}; verify-only pass: ${check.code === 0 ? 'nothing missing' : 'see its report'}\n`,
    );
  } finally {
    await convoy(['local', 'down'], { quiet: true });
    rmSync(stateDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`demo failed: ${(err as Error).message}\n`);
  process.exitCode = 1;
});
