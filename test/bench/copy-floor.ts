/**
 * `npm run bench:copy-floor`: what the least Node.js process costs to copy bench:s3 case (c)'s
 * data (2,000 x 256 KiB server-side within one endpoint), beside convoy and rclone in the same
 * run: issue #12's "measurement of the limit" for (c), where convoy's CPU per object is above
 * rclone's. If the floor (copy-floor-client.ts: a list and one signed CopyObject per key over
 * keep-alive node:http, 64 in flight, nothing else) already costs as much CPU per object as
 * rclone's whole run, no Node design reaches rclone's CPU per object in (c). The fleet floor is
 * the same copy in the shape of convoy's design and no more (a planning process and a working
 * process started together, a message per range of 500 keys holding its keys, a DynamoDB row per
 * range claimed and marked done): what that design cannot cost less than.
 *
 * Against the emulators of `convoy local up` (their own process), reached directly (no counting
 * proxies, for every row alike), each round runs, in an order that rotates by round:
 *   - `node floor`: copy-floor-client.js `copy`, from its start to its exit;
 *   - `fleet floor`: copy-floor-client.js `plan` and `work`, started together, until both exit
 *     (the queue and the table made beforehand, untimed, as `convoy local up` makes convoy's);
 *   - `convoy`: `convoy plan s3-sync` and `convoy worker` (its defaults), as bench:s3 runs it;
 *   - `convoy-work`: `convoy plan s3-sync --work`, the plan's process working the run (one process);
 *   - `rclone64`: `rclone copy --transfers 64`, as bench:s3 runs it.
 * Before the rounds, rclone copies the data once unmeasured (bench:s3's settling copy). Printed per
 * row: the median wall time, CPU (user + system, the whole process tree) per object, and the ratio
 * to rclone64; the machine and its load at the start.
 *
 * Options: --objects N (default 2000), --rounds R (default 3), --in-flight N (the floor's, default 64).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { CreateQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import { startMeasured, type MeasuredResult } from './lib/command.js';
import {
  BodyFactory,
  caseObjects,
  checkBucket,
  describeCheck,
  ensureBucket,
  KiB,
  populateBucket,
  totalBytes,
} from './lib/data.js';
import { ensurePeers, writePeerConfigs } from './lib/peers.js';
import { medianIndex } from './lib/results.js';
import { convoyEnv, startBenchStack } from './lib/stack.js';
import { runTool, type BenchCase, type ToolContext } from './lib/tools.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const FLOOR_CLIENT = fileURLToPath(new URL('./copy-floor-client.js', import.meta.url));
const SIZE = 256 * KiB;
const SRC = 'floor-src';

const { values } = parseArgs({
  options: {
    objects: { type: 'string', default: '2000' },
    rounds: { type: 'string', default: '3' },
    'in-flight': { type: 'string', default: '64' },
  },
});
const OBJECTS = Number(values.objects);
const ROUNDS = Number(values.rounds);
const IN_FLIGHT = Number(values['in-flight']);
for (const [flag, n] of [
  ['--objects', OBJECTS],
  ['--rounds', ROUNDS],
  ['--in-flight', IN_FLIGHT],
] as const) {
  if (!Number.isInteger(n) || n < 1) {
    process.stderr.write(`bench:copy-floor: ${flag} takes a whole number >= 1\n`);
    process.exit(2);
  }
}

type Row = 'node floor' | 'fleet floor' | 'convoy' | 'convoy-work' | 'rclone64';
const ROWS: Row[] = ['node floor', 'fleet floor', 'convoy', 'convoy-work', 'rclone64'];
const RANGE_KEYS = 500;

interface Sample {
  seconds: number;
  cpuS: number;
}

const say = (line: string) => process.stdout.write(`${line}\n`);
/** The median (the lower one for an even count); medianIndex indexes `xs` as given. */
const median = (xs: number[]) => xs[medianIndex(xs)]!;

async function main(): Promise<void> {
  const load = loadavg();
  say(
    `bench:copy-floor: ${OBJECTS} x ${SIZE / KiB} KiB server-side within one endpoint, ${ROUNDS} rounds; ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), Node ${process.version}, load average ${load.map((l) => l.toFixed(2)).join(' ')}`,
  );
  const work = mkdtempSync(path.join(tmpdir(), 'convoy-copy-floor-'));
  const stack = await startBenchStack(path.join(work, 'state'), [], { cwd: work });
  try {
    const local = stack.stack.remotes.local!;
    const credentials = { accessKeyId: local.accessKeyId!, secretAccessKey: local.secretAccessKey! };
    const s3 = new S3Client({ endpoint: local.endpoint, region: local.region, forcePathStyle: true, credentials });
    const objects = caseObjects('c', OBJECTS, SIZE);
    const bodies = new BodyFactory(SIZE);
    await populateBucket(s3, SRC, objects, bodies);
    say(`source written: ${objects.length} objects, ${(totalBytes(objects) / 1024 / 1024).toFixed(0)} MiB`);

    const peers = await ensurePeers(() => {});
    const peerFiles = writePeerConfigs(work, [
      { name: 'local', endpoint: local.endpoint!, region: local.region, ...credentials },
    ]);
    const c: BenchCase = {
      id: 'c',
      description: 'copy floor',
      objects,
      bytes: totalBytes(objects),
      from: { remote: 'local', bucket: SRC },
      toRemote: 'local',
    };
    const ctx: ToolContext = {
      stack,
      tmpDir: work,
      logDir: work,
      cwd: work,
      peers,
      peerFiles,
      convoy: { workerArgs: [], planArgs: [], workerNodeArgs: [] },
      timeoutMs: 300_000,
      say: () => {},
    };
    const state = stack.stack.state;
    const stateCredentials = state.credentials ?? credentials;
    const sqs = new SQSClient({ endpoint: state.endpoints.sqs, region: state.region, credentials: stateCredentials });
    const ddb = new DynamoDBClient({
      endpoint: state.endpoints.dynamodb,
      region: state.region,
      credentials: stateCredentials,
    });
    const s3Config = { endpoint: local.endpoint!, region: local.region, ...credentials };
    const ranges = Math.ceil(OBJECTS / RANGE_KEYS);
    /** one floor client process, started now; its logs are named after `label` */
    const floorClient = (label: string, config: object) =>
      startMeasured([process.execPath, FLOOR_CLIENT, JSON.stringify(config)], {
        env: convoyEnv(),
        cwd: work,
        logDir: work,
        label,
      });
    const checked = (r: MeasuredResult, label: string) => {
      if (r.exitCode !== 0) throw new Error(`${label} exited ${r.exitCode ?? r.signal} (logs ${work}/${label}.stderr)`);
      return r;
    };
    const run = async (row: Row, dest: string): Promise<Sample> => {
      if (row === 'node floor') {
        await ensureBucket(s3, dest); // as bench:s3 does for aws-cli: not timed
        const config = { role: 'copy', s3: s3Config, from: SRC, to: dest, inFlight: IN_FLIGHT };
        const r = checked(await floorClient(dest, config).done, dest);
        return { seconds: r.wallMs / 1000, cpuS: r.userCpuS + r.sysCpuS };
      }
      if (row === 'fleet floor') {
        // the queue and the table are made beforehand, as convoy's are by `convoy local up`: not timed
        await ensureBucket(s3, dest);
        const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: dest }));
        await ddb.send(
          new CreateTableCommand({
            TableName: dest,
            BillingMode: 'PAY_PER_REQUEST',
            AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
            KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
          }),
        );
        const common = {
          s3: s3Config,
          from: SRC,
          to: dest,
          inFlight: IN_FLIGHT,
          rangeKeys: RANGE_KEYS,
          ranges,
          state: {
            sqs: state.endpoints.sqs!,
            dynamodb: state.endpoints.dynamodb!,
            region: state.region,
            ...stateCredentials,
            queueUrl: QueueUrl!,
            table: dest,
          },
        };
        // started together, as bench:s3 starts convoy's plan and worker
        const planner = floorClient(`${dest}-plan`, { ...common, role: 'plan' });
        const worker = floorClient(`${dest}-work`, { ...common, role: 'work' });
        const p = checked(await planner.done, `${dest}-plan`);
        const w = checked(await worker.done, `${dest}-work`);
        return {
          seconds: (Math.max(p.endedAtMs, w.endedAtMs) - Math.min(p.startedAtMs, w.startedAtMs)) / 1000,
          cpuS: p.userCpuS + p.sysCpuS + w.userCpuS + w.sysCpuS,
        };
      }
      const t = await runTool(row, c, dest, ctx, dest, () => ensureBucket(s3, dest));
      return { seconds: t.figures.seconds, cpuS: t.figures.cpuS };
    };

    await run('rclone64', 'floor-settle');
    say('settled: rclone64 copied the source once, unmeasured');
    const samples = new Map<Row, Sample[]>(ROWS.map((r) => [r, []]));
    for (let round = 0; round < ROUNDS; round++) {
      const order = ROWS.map((_, i) => ROWS[(i + round) % ROWS.length]!);
      for (const row of order) {
        const dest = `floor-r${round}-${row.replace(/\W+/g, '')}`;
        const s = await run(row, dest);
        const check = await checkBucket(s3, dest, objects, bodies, 4);
        if (!check.ok) throw new Error(`${row}: ${describeCheck(dest, check)}`);
        samples.get(row)!.push(s);
      }
    }
    s3.destroy();
    sqs.destroy();
    ddb.destroy();

    const rclone = samples.get('rclone64')!;
    const rcloneSeconds = median(rclone.map((s) => s.seconds));
    const rcloneCpu = median(rclone.map((s) => s.cpuS));
    say(
      `\n${'what'.padEnd(12)} ${'seconds'.padStart(8)} ${'CPU ms/obj'.padStart(11)} ${'vs rclone64 (speed, CPU)'.padStart(26)}   runs (s / CPU ms per object)`,
    );
    for (const row of ROWS) {
      const s = samples.get(row)!;
      const seconds = median(s.map((x) => x.seconds));
      const cpu = median(s.map((x) => x.cpuS));
      say(
        `${row.padEnd(12)} ${seconds.toFixed(2).padStart(8)} ${((cpu * 1000) / OBJECTS).toFixed(2).padStart(11)} ${`${(rcloneSeconds / seconds).toFixed(2)}x, ${(cpu / rcloneCpu).toFixed(2)}x`.padStart(26)}   ${s.map((x) => `${x.seconds.toFixed(2)} / ${((x.cpuS * 1000) / OBJECTS).toFixed(2)}`).join(', ')}`,
      );
    }
    say('(medians; CPU = user + system of the whole process tree, from start to exit)');
  } finally {
    await stack.down();
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:copy-floor failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
