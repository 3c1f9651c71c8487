/**
 * docs/deploy.md section 4 (distribute customers over N instances) with docs/uploads.md's seed, on
 * the test's own local stack: `convoy distribute`, the files uploaded as the doc says, then three
 * instances each running the CDK user data's `convoy-start` (its text, see fleet-instance.ts).
 * What an operator checks: every seeded upload ends done, or failed with the class of its defect,
 * in the runs the instances planned; a bad or missing customers file stops the worker with exit 2.
 */
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fleetKindsOf } from '../../infra/cdk/app.js';
import { builtInKinds } from '../../worker/jobs/builtin.js';
import { waitUntil } from '../helpers/stack.js';
import { docCommand } from './doc-commands.js';
import { DocShell } from './doc-shell.js';
import { AWS_STAND_IN, startInstance } from './fleet-instance.js';

const shell = new DocShell();
const fakeS3 = path.join(shell.dir, 's3');
/** the seeder's deliberately broken uploads fail with these classes (missing shard, truncated CAR, bad block) */
const BROKEN_CLASSES = ['SHARD_NOT_FOUND', 'SHARD_CORRUPT', 'INDEX_GENERATION_FAILED'];
let seededUploads = 0;
let seededBroken = 0;
let configJson = '';

interface Run {
  runId: string;
  kind: string;
  state: string;
}

async function convoyJson<T>(cmd: string): Promise<T> {
  const r = await shell.run(cmd);
  expect(r.code, `${cmd}: ${r.stderr}`).toBe(0);
  return JSON.parse(r.stdout) as T;
}

beforeAll(async () => {
  shell.tool('aws', AWS_STAND_IN);
  shell.setEnv({ FAKE_S3: fakeS3 }); // the stand-in's bucket folder
  const up = await shell.run(docCommand('README.md', 'npx convoy local up'));
  expect(up.code, up.stderr).toBe(0);
  // docs/uploads.md's seed, smaller for CI (500 uploads take minutes on 2 shared cores), with
  // enough broken uploads that every run has some
  const seed = docCommand(
    'docs/uploads.md',
    'convoy local seed uploads --customers 5 --spaces 20 --uploads 500',
  ).replace('--uploads 500', '--uploads 60 --broken-rate 0.1');
  const seeded = await shell.run(seed, { timeoutMs: 90_000 });
  expect(seeded.code, seeded.stderr).toBe(0);
  const m = /seeded 5 customers, 20 spaces, (\d+) uploads .*; (\d+) broken/.exec(seeded.stdout);
  expect(m, seeded.stdout).toBeTruthy();
  [seededUploads, seededBroken] = [Number(m![1]), Number(m![2])];
  expect(seededBroken).toBeGreaterThan(0);
  // the config deploy.md section 3 saves from the stack outputs: the state section (here the
  // local stack's tables and queues) and the remotes; it is also what every instance gets
  const stack = shell.stackFile();
  configJson = JSON.stringify({ state: stack.state, remotes: stack.remotes }, null, 2);
  shell.writeConfig(JSON.parse(configJson));
}, 150_000);
afterAll(() => shell.close(), 30_000);

describe('docs/deploy.md: distribute, then instances running convoy-start', () => {
  it('three instances plan their customers files and migrate every seeded upload (done, or failed with its class)', async () => {
    // deploy.md's distribute over 3 instances (the doc's 8 and --min-uploads 1000 would leave
    // every customer of a small seed out), into a folder that is then uploaded as the doc shows
    const distribute = docCommand(
      'docs/deploy.md',
      'convoy --config convoy.config.json distribute --instances 8 --min-uploads 1000 --out customers',
    ).replace('--instances 8 --min-uploads 1000', '--instances 3 --min-uploads 1');
    const d = await shell.run(distribute);
    expect(d.code, d.stderr).toBe(0);
    expect(d.stdout).toContain(`total ${seededUploads} uploads`);
    const upload = await shell.run(
      docCommand(
        'docs/deploy.md',
        'aws s3 cp customers s3://convoy-config/customers/ --recursive --exclude "*" --include "instance-*.json"',
      ),
    );
    expect(upload.code, upload.stderr).toBe(0);
    for (const k of [1, 2, 3])
      expect(existsSync(path.join(fakeS3, `convoy-config/customers/instance-${k}.json`))).toBe(true);

    const input = {
      configJson,
      fleet: 'convoy',
      instanceFilesSource: 's3://convoy-config/customers',
      // what the CDK app passes the stack: the built-in kinds' file per instance (uploads: --customers-file)
      ...fleetKindsOf(builtInKinds),
      instanceSlots: '3',
      workerConcurrency: 16,
      shutdownDeadlineSec: 10,
    };
    const instances = [1, 2, 3].map((k) => startInstance(shell, `i-${k}`, { input, slot: k }));
    const output = () =>
      instances.map((i, k) => `--- instance ${k + 1} (exit ${i.exitCode}):\n${i.output()}`).join('\n');

    // each instance plans its file's customers as a run of its own
    const runs = await waitUntil(
      async () => {
        const all = (await convoyJson<Run[]>('convoy --config convoy.config.json status --json')).filter(
          (r) => r.kind === 'uploads',
        );
        return all.length >= 3 ? all : undefined;
      },
      {
        timeoutMs: 60_000,
        intervalMs: 1000,
        what: `the 3 instances to plan their customers files (runs by \`status --json\`); instances:\n${output()}`,
      },
    ).catch((err) => {
      throw new Error(`${(err as Error).message}\n${output()}`);
    });
    expect(runs).toHaveLength(3);
    await waitUntil(
      async () => {
        for (const r of runs) {
          const summary = await convoyJson<{ run: Run }>(
            `convoy --config convoy.config.json monitor --run ${r.runId} --json`,
          );
          if (summary.run.state !== 'done') return false;
        }
        return true;
      },
      { timeoutMs: 150_000, intervalMs: 2000, what: `every instance's run done; instances:\n${output()}` },
    );

    let uploads = 0;
    let ok = 0;
    let failed = 0;
    for (const r of runs) {
      const s = await convoyJson<{ counts: Record<string, number>; failuresByClass: Record<string, number> }>(
        `convoy --config convoy.config.json status --run ${r.runId} --json`,
      );
      expect(s.counts.pending + s.counts.leased + s.counts.retrying, r.runId).toBe(0);
      for (const cls of Object.keys(s.failuresByClass))
        expect(BROKEN_CLASSES, `${r.runId} failed with ${cls}`).toContain(cls);
      const v = await shell.run(`convoy --config convoy.config.json verify --run ${r.runId}`);
      expect(v.code, v.stdout + v.stderr).toBe(s.counts.failed > 0 ? 1 : 0); // exit 1 = differences: the broken uploads
      const num = (label: string) => Number(new RegExp(`^${label}\\s+(\\d+)$`, 'm').exec(v.stdout)?.[1]);
      uploads += num('uploads');
      ok += num('ok');
      failed += num('failed');
      expect(num('pending'), v.stdout).toBe(0);
      expect(num('failed'), v.stdout).toBe(s.counts.failed);
    }
    expect({ uploads, ok, failed }).toEqual({
      uploads: seededUploads,
      ok: seededUploads - seededBroken,
      failed: seededBroken,
    });

    // the monitor shows the three instance labels convoy-start gave
    const byInstance = await convoyJson<{ instances: Array<{ instance: string }> }>(
      `convoy --config convoy.config.json monitor --instance --run ${runs[0]!.runId} --json`,
    );
    expect(byInstance.instances.map((i) => i.instance).sort()).toEqual([
      'convoy-instance-1',
      'convoy-instance-2',
      'convoy-instance-3',
    ]);

    // scale-in: systemd stops each worker with SIGTERM; it exits 0
    for (const i of instances) i.kill('SIGTERM');
    expect(await Promise.all(instances.map((i) => i.exited)), output()).toEqual([0, 0, 0]);
  }, 300_000);

  it('a customers file that is missing or not a customers list stops the worker with exit 2, naming the file, before anything is planned', async () => {
    const runsBefore = (await convoyJson<Run[]>('convoy status --json')).length;
    const bad = path.join(shell.cwd, 'instance-bad.json');
    writeFileSync(bad, '{"customers": "did:mailto:example.com:x"}');
    const empty = path.join(shell.cwd, 'instance-empty.json');
    writeFileSync(empty, '[]');
    for (const file of [path.join(shell.cwd, 'instance-9.json'), bad, empty]) {
      // the arguments convoy-start gives the worker, with a file that is not usable
      const r = await shell
        .run(
          `convoy --config convoy.config.json worker --processes auto --concurrency 16 --shutdown-deadline-ms 10000 --instance convoy-instance-9 --customers-file ${file}`,
          { timeoutMs: 30_000 },
        )
        .catch((err: Error) => ({
          code: -1,
          stdout: '',
          stderr: `the worker did not exit (it ignored --customers-file ${file}): ${err.message}`,
        }));
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain(file);
      expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    }
    expect((await convoyJson<Run[]>('convoy status --json')).length).toBe(runsBefore);
  }, 120_000);
});
