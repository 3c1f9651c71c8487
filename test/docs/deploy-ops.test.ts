/**
 * docs/deploy.md sections 2, 5, 7 and 8 on the test's local stack: the artifact built by the
 * doc's recipe and unpacked where the user data unpacks it; an s3-sync run planned "from anywhere
 * with the config", held with `pause` before a fleet instance without customers files (the user
 * data's `convoy-start`: no slot, so "the shared queue only") starts from that artifact, resumed,
 * then the doc's watch, requeue and reconcile commands as an operator runs them after the run is
 * done.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeS3Client } from '../../shared/s3-clients.js';
import { putObjects } from '../fixtures/s3-data.js';
import { waitUntil } from '../helpers/stack.js';
import { docCommand, REPO } from './doc-commands.js';
import { DocShell, type Background } from './doc-shell.js';
import { AWS_STAND_IN, startInstance } from './fleet-instance.js';

const shell = new DocShell();
const OBJECTS = Array.from({ length: 40 }, (_, i) => ({
  key: `${String.fromCharCode(97 + (i % 26))}/part-${i}.parquet`,
  size: 2000 + i,
  contentType: 'application/octet-stream',
}));
let aws: S3Client;
let instance: Background | undefined;
/** /opt/convoy of the instance: the artifact, unpacked */
let artifactDir: string;

/**
 * docs/deploy.md section 2's artifact, by its recipe, in this checkout after `npm ci && npm run
 * build` (the suite's build), then uploaded with the doc's `aws s3 cp` (the stand-in's bucket
 * folder) and unpacked as user data step 2 does (`tar -xzf ... -C /opt/convoy`). The recipe's
 * /tmp/convoy-artifact and the tarball it writes here are one per machine: CI runs this file on two
 * Nodes at once, so the recipe holds a lock while it runs (the lock is the test's, not the doc's).
 * The second suite of a CI run takes the tarball the first built from the same inputs (package
 * files, and every file of dist/ by name, size and mtime) instead of running the recipe's
 * `npm ci` again: 40-60 s of a loaded CI machine, for the same bytes.
 */
async function buildArtifact(): Promise<string> {
  const recipe = [
    docCommand('docs/deploy.md', 'rm -rf /tmp/convoy-artifact && mkdir /tmp/convoy-artifact'),
    docCommand('docs/deploy.md', 'cp -r dist package.json package-lock.json /tmp/convoy-artifact/'),
    docCommand('docs/deploy.md', '(cd /tmp/convoy-artifact && npm ci --omit=dev --ignore-scripts)'),
    docCommand('docs/deploy.md', 'tar -czf convoy-0.1.0.tgz -C /tmp/convoy-artifact .'),
  ];
  const built = await shell.run(
    [
      'set -euo pipefail',
      `cd '${REPO}'`,
      'exec 9>/tmp/convoy-artifact.lock',
      'flock 9',
      `stamp=$( (cat package.json package-lock.json; find dist -type f -printf '%P %s %T@\\n' | LC_ALL=C sort) | sha256sum)`,
      'if [ "$stamp" = "$(cat /tmp/convoy-artifact.stamp 2>/dev/null)" ] && [ -f /tmp/convoy-artifact.tgz ]; then',
      `  cp /tmp/convoy-artifact.tgz '${shell.cwd}/convoy-0.1.0.tgz'`,
      'else',
      ...recipe.map((line) => `  ${line}`),
      '  cp convoy-0.1.0.tgz /tmp/convoy-artifact.tgz && echo "$stamp" > /tmp/convoy-artifact.stamp',
      `  mv convoy-0.1.0.tgz '${shell.cwd}/'`,
      'fi',
    ].join('\n'),
    { timeoutMs: 300_000 },
  );
  expect(built.code, `${built.stdout}${built.stderr}`).toBe(0);
  const upload = await run(
    docCommand('docs/deploy.md', 'aws s3 cp convoy-0.1.0.tgz s3://convoy-artifacts/convoy-0.1.0.tgz'),
  );
  expect(upload.code, upload.out).toBe(0);
  const dir = path.join(shell.dir, 'opt-convoy');
  mkdirSync(dir);
  execFileSync('tar', ['-xzf', path.join(shell.dir, 'fake-s3/convoy-artifacts/convoy-0.1.0.tgz'), '-C', dir]);
  return dir;
}

interface Summary {
  run: { state: string };
  total: number;
  counts: Record<string, number>;
  queue?: Record<string, number>;
}

async function run(cmd: string): Promise<{ code: number | null; out: string }> {
  const r = await shell.run(cmd);
  return { code: r.code, out: `${r.stdout}${r.stderr}` };
}

const summary = async () =>
  JSON.parse((await shell.run('convoy --config convoy.config.json monitor --run bronze-1 --json')).stdout) as Summary;

beforeAll(async () => {
  shell.tool('aws', AWS_STAND_IN);
  shell.setEnv({ FAKE_S3: path.join(shell.dir, 'fake-s3') });
  artifactDir = await buildArtifact();
  const up = await run(docCommand('README.md', 'npx convoy local up'));
  expect(up.code, up.out).toBe(0);
  const stack = shell.stackFile();
  // deploy.md section 3's config: the state section and the remotes ("aws" here is the stack's S3)
  shell.writeConfig({ state: stack.state, remotes: { ...stack.remotes, aws: stack.remotes.local } });
  aws = makeS3Client({ ...stack.remotes.local, name: 'aws' } as never);
  await putObjects(aws, 'bronze-src', OBJECTS);
  await putObjects(aws, 'bronze-dst', []);
}, 400_000);
// `local down`, then removing the shell's folder, which holds the unpacked artifact (its
// production node_modules): 3 s alone, 7 s beside six busy loops, over 30 s in one CI run with
// both suites and the compat run at once
afterAll(async () => {
  aws?.destroy();
  await shell.close();
}, 120_000);

describe('docs/deploy.md: plan from anywhere, pause and resume, watch, requeue and reconcile', () => {
  it('a paused run waits for resume; the fleet instance (shared queue only) then finishes it', async () => {
    const plan = await run(
      docCommand(
        'docs/deploy.md',
        'convoy --config convoy.config.json plan s3-sync --from aws:bronze-src --to aws:bronze-dst --run bronze-1',
      ),
    );
    expect(plan.code, plan.out).toBe(0);
    const pause = await run(docCommand('docs/deploy.md', 'convoy --config convoy.config.json pause --run bronze-1'));
    expect(pause.code, pause.out).toBe(0);

    const configJson = readFileSync(path.join(shell.cwd, 'convoy.config.json'), 'utf8'); // what every instance gets
    // the instance runs convoy from the artifact: its own dist/ and production node_modules only
    instance = startInstance(shell, 'i-1', {
      input: { configJson, fleet: 'convoy', instanceSlots: '0', workerConcurrency: 8, shutdownDeadlineSec: 10 },
      convoyDir: artifactDir,
    });
    // paused: the worker drops the run's messages instead of working them; the items stay pending
    await waitUntil(
      async () => {
        const s = await summary();
        return (
          s.queue &&
          s.queue.visible === 0 &&
          s.queue.inFlight === 0 &&
          s.counts.pending === s.total &&
          s.counts.done === 0
        );
      },
      {
        timeoutMs: 60_000,
        intervalMs: 1000,
        what: `the paused run's queue drained with every item pending; instance:\n${instance.output()}`,
      },
    );
    expect(instance.output()).toContain('working the shared queue only');
    // convoy-start exec'd the worker from the unpacked artifact, not from this checkout
    const cmdline = readFileSync(`/proc/${instance.pid}/cmdline`, 'utf8').split('\0');
    expect(cmdline).toContain(path.join(artifactDir, 'dist/coordinator/cli/main.js'));

    const resume = await run(docCommand('docs/deploy.md', 'convoy --config convoy.config.json resume --run bronze-1'));
    expect(resume.code, resume.out).toBe(0);
    await waitUntil(async () => (await summary()).run.state === 'done', {
      timeoutMs: 90_000,
      intervalMs: 1000,
      what: `bronze-1 done; instance:\n${instance.output()}`,
    });
    const s = await summary();
    expect(s.counts).toMatchObject({ done: s.total, failed: 0 });
    const listed = await aws.send(new ListObjectsV2Command({ Bucket: 'bronze-dst' }));
    expect(listed.KeyCount).toBe(OBJECTS.length);
  }, 200_000);

  it('section 7 and 8: the watch, requeue, reconcile and verify commands answer as the doc says', async () => {
    const watch = [
      'convoy --config convoy.config.json monitor --run bronze-1',
      'convoy --config convoy.config.json monitor --instance',
      'convoy --config convoy.config.json monitor --failed --class THROTTLED',
      'convoy --config convoy.config.json monitor --stuck',
      'convoy --config convoy.config.json status --run bronze-1',
      'convoy --config convoy.config.json monitor --failed --run bronze-1',
    ];
    const out: Record<string, string> = {};
    for (const cmd of watch) {
      const r = await run(docCommand('docs/deploy.md', cmd));
      expect(r.code, `${cmd}\n${r.out}`).toBe(0);
      out[cmd] = r.out;
    }
    expect(out[watch[0]!]).toMatch(/state=done|done/);
    expect(out[watch[1]!]).toContain('convoy-extra-'); // the label convoy-start gives an instance without a slot

    // nothing failed: reconcile has nothing to re-send, verify is clean
    for (const cmd of [
      'convoy --config convoy.config.json reconcile --run bronze-1 --grace-ms 600000',
      'convoy --config convoy.config.json verify --run bronze-1',
    ]) {
      const r = await run(docCommand('docs/deploy.md', cmd));
      expect(r.code, `${cmd}\n${r.out}`).toBe(0);
    }
    instance!.kill('SIGTERM');
    expect(await instance!.exited, instance!.output()).toBe(0);
  }, 120_000);

  it('requeue with a filter no failed item matches is bad input: exit 2 naming the filter, nothing written', async () => {
    // bronze-1 finished clean: neither the doc's class nor its item matches a failed item
    for (const [cmd, named] of [
      ['convoy --config convoy.config.json requeue --run bronze-1 --class ACCESS_DENIED', 'ACCESS_DENIED'],
      ["convoy --config convoy.config.json requeue --run bronze-1 --item 'range:bronze:a..f'", 'range:bronze:a..f'],
    ] as const) {
      const r = await run(docCommand('docs/deploy.md', cmd));
      expect(r.code, `${cmd}\n${r.out}`).toBe(2);
      expect(r.out).toContain(named);
      expect(r.out).not.toMatch(/\n\s+at /); // no stack trace
    }
    expect((await summary()).run.state).toBe('done');
  }, 60_000);

  it('cancel is final; on a finished run it does not apply: exit 2 naming the run state', async () => {
    const r = await run(docCommand('docs/deploy.md', 'convoy --config convoy.config.json cancel --run bronze-1'));
    expect(r.code, r.out).toBe(2);
    expect(r.out).toContain('done');
    expect(r.out).not.toMatch(/\n\s+at /);
    expect((await summary()).run.state).toBe('done');
  }, 60_000);
});
