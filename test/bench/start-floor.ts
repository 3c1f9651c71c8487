/**
 * `npm run bench:start-floor`: what it costs to start, before the first object moves: issue #12's
 * "measurement of the limit" for bench:s3 (a) and (c), small runs (5,000 and 2,000 objects) that
 * convoy copies faster than rclone once it has started, but that rclone finishes first.
 *
 * Against the emulators of `convoy local up` (their own process) and a bucket of one object, each
 * row is started R times, the rows alternated within a round, under GNU time:
 *   - `node (nothing)`: `node -e 0`, the runtime alone;
 *   - `node + AWS SDK, one list`: a script that loads @aws-sdk/client-s3 and lists the bucket once:
 *     the least a Node process using the SDK does before its first request is answered;
 *   - `rclone, one list`: `rclone lsf` of the bucket: the peer's start and first request;
 *   - `convoy plan s3-sync`: the whole plan of the one-object bucket (the coordinator's floor);
 *   - `convoy worker --processes 1` and `convoy worker` (auto, with its supervisor): until the
 *     (first) worker process logs "worker started", i.e. it would take its first message.
 * Printed: the median wall time (to exit, or to "worker started") and CPU (user + system, the
 * whole process tree, for the worker until it exits idle) per row, the load at the start.
 *
 * Options: --rounds R (default 5).
 */
import { readFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { logTime, startMeasured, type MeasuredResult } from './lib/command.js';
import { peerEnv, writePeerConfigs } from './lib/peers.js';
import { medianIndex } from './lib/results.js';
import { convoyArgv, convoyEnv, REPO_ROOT, startBenchStack } from './lib/stack.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** The median (the lower one for an even count). */
const median = (xs: number[]) => xs[medianIndex(xs)]!;

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5' } } });
const ROUNDS = Number(values.rounds);
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) {
  process.stderr.write('bench:start-floor: --rounds takes a whole number >= 1\n');
  process.exit(2);
}
const BUCKET = 'floor';

interface Row {
  label: string;
  argv: string[];
  env: NodeJS.ProcessEnv;
  /** the log line that ends the wall time (a worker's); absent: the process's exit */
  readyMsg?: string;
}

interface Sample {
  wallMs: number;
  cpuMs: number;
}

function sample(row: Row, r: MeasuredResult): Sample {
  if (r.exitCode !== 0)
    throw new Error(`${r.command} exited ${r.exitCode ?? r.signal}:\n${readFileSync(r.stderrPath, 'utf8')}`);
  const readyAt = row.readyMsg ? logTime(r.stderrPath, row.readyMsg) : r.endedAtMs;
  if (readyAt === undefined) throw new Error(`${r.command} never logged "${row.readyMsg}"`);
  return { wallMs: readyAt - r.startedAtMs, cpuMs: Math.round((r.userCpuS + r.sysCpuS) * 1000) };
}

async function main(): Promise<void> {
  const load = loadavg();
  const work = mkdtempSync(path.join(tmpdir(), 'convoy-start-floor-'));
  const say = (line: string) => process.stdout.write(`${line}\n`);
  say(
    `bench:start-floor: ${ROUNDS} rounds; ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), Node ${process.version}, load average ${load.map((l) => l.toFixed(2)).join(' ')}`,
  );
  const stateDir = path.join(work, 'state');
  const stack = await startBenchStack(stateDir, [], { cwd: work });
  try {
    const local = stack.stack.remotes.local!;
    const s3 = new S3Client({
      endpoint: local.endpoint,
      region: local.region,
      forcePathStyle: true,
      credentials: { accessKeyId: local.accessKeyId!, secretAccessKey: local.secretAccessKey! },
    });
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'one', Body: 'x' }));
    s3.destroy();

    // the SDK script resolves the package from this repository, wherever the script is written
    const sdk = pathToFileURL(createRequire(path.join(REPO_ROOT, 'package.json')).resolve('@aws-sdk/client-s3')).href;
    const script = path.join(work, 'sdk-list.mjs');
    writeFileSync(
      script,
      [
        `const { S3Client, ListObjectsV2Command } = await import(${JSON.stringify(sdk)});`,
        `const s3 = new S3Client(${JSON.stringify({
          endpoint: local.endpoint,
          region: local.region,
          forcePathStyle: true,
          credentials: { accessKeyId: local.accessKeyId, secretAccessKey: local.secretAccessKey },
        })});`,
        `const out = await s3.send(new ListObjectsV2Command({ Bucket: ${JSON.stringify(BUCKET)}, MaxKeys: 1 }));`,
        'if (out.KeyCount !== 1) process.exit(1);',
        's3.destroy();',
      ].join('\n'),
    );
    const peers = writePeerConfigs(work, [
      {
        name: 'local',
        endpoint: local.endpoint!,
        region: local.region,
        accessKeyId: local.accessKeyId!,
        secretAccessKey: local.secretAccessKey!,
      },
    ]);
    const env = convoyEnv({ CONVOY_LOG_FORMAT: 'json', CONVOY_LOG_LEVEL: 'info' });
    const worker = (args: string[]) =>
      convoyArgv(stateDir, 'worker', ...args, '--wait-seconds', '1', '--exit-when-idle', '500');
    let run = 0;
    const rows: Array<Omit<Row, 'argv'> & { argv: () => string[] }> = [
      { label: 'node (nothing)', argv: () => [process.execPath, '-e', '0'], env },
      { label: 'node + AWS SDK, one list', argv: () => [process.execPath, script], env },
      {
        label: 'rclone, one list',
        argv: () => ['rclone', '--config', peers.rcloneConfig, 'lsf', `local:${BUCKET}`],
        env: peerEnv(),
      },
      {
        label: 'convoy plan s3-sync (one object)',
        argv: () =>
          convoyArgv(
            stateDir,
            'plan',
            's3-sync',
            '--from',
            `local:${BUCKET}`,
            '--to',
            'local:floor-dst',
            '--create-buckets',
            '--run',
            `floor-${++run}`,
          ),
        env,
      },
      {
        label: 'convoy worker --processes 1',
        argv: () => worker(['--processes', '1']),
        env,
        readyMsg: 'worker started',
      },
      {
        label: 'convoy worker (auto: supervisor, then a process)',
        argv: () => worker([]),
        env,
        readyMsg: 'worker started',
      },
    ];
    const samples = new Map<string, Sample[]>(rows.map((r) => [r.label, []]));
    for (let round = 1; round <= ROUNDS; round++) {
      for (const row of rows) {
        const argv = row.argv();
        const r = await startMeasured(argv, {
          env: row.env,
          cwd: work,
          logDir: work,
          label: `r${round}-${samples.get(row.label)!.length}-${row.label.replace(/\W+/g, '-')}`,
        }).done;
        samples.get(row.label)!.push(sample({ ...row, argv }, r));
      }
    }
    say(
      `\n${'what'.padEnd(50)} ${'wall ms'.padStart(8)} ${'CPU ms'.padStart(8)}   (medians of ${ROUNDS}; wall to exit or to "worker started")`,
    );
    for (const row of rows) {
      const s = samples.get(row.label)!;
      say(
        `${row.label.padEnd(50)} ${String(median(s.map((x) => x.wallMs))).padStart(8)} ${String(median(s.map((x) => x.cpuMs))).padStart(8)}   wall ${s.map((x) => x.wallMs).join('/')}`,
      );
    }
  } finally {
    await stack.down();
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:start-floor failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
