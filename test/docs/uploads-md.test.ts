/**
 * docs/uploads.md "By hand on the local stack", run line by line on a stack the test starts with
 * the doc's `convoy local up` (dynalite, fauxqs and the UCAN peers): seed, a dry run, the run with
 * two workers, the `--watch` monitor (one summary line per interval when stdout is not a terminal),
 * verify. Every seeded upload ends done, or failed with the class of its deliberate defect.
 */
import { statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitUntil } from '../helpers/stack.js';
import { docCommand } from './doc-commands.js';
import { DocShell, type Background } from './doc-shell.js';

const shell = new DocShell();
const BROKEN_CLASSES = ['SHARD_NOT_FOUND', 'SHARD_CORRUPT', 'INDEX_GENERATION_FAILED'];
let seededUploads = 0;
let seededBroken = 0;

const num = (label: string, text: string) => Number(new RegExp(`^${label}\\s+(\\d+)$`, 'm').exec(text)?.[1]);

beforeAll(async () => {
  const up = await shell.run(docCommand('docs/uploads.md', 'convoy local up'));
  expect(up.code, up.stderr).toBe(0);
  // "writes .convoy/uploads.json (0600)": it holds keys
  expect(statSync(path.join(shell.stateDir, 'uploads.json')).mode & 0o777).toBe(0o600);
  // the doc's seed, smaller for CI (500 uploads take minutes on 2 shared cores), with broken uploads
  const seed = docCommand(
    'docs/uploads.md',
    'convoy local seed uploads --customers 5 --spaces 20 --uploads 500',
  ).replace('--uploads 500', '--uploads 40 --broken-rate 0.1');
  const seeded = await shell.run(seed, { timeoutMs: 90_000 });
  expect(seeded.code, seeded.stderr).toBe(0);
  const m = /seeded 5 customers, 20 spaces, (\d+) uploads .*; (\d+) broken/.exec(seeded.stdout);
  expect(m, seeded.stdout).toBeTruthy();
  [seededUploads, seededBroken] = [Number(m![1]), Number(m![2])];
  expect(seededBroken).toBeGreaterThan(0);
}, 150_000);
afterAll(() => shell.close(), 30_000);

describe('docs/uploads.md by hand on the local stack', () => {
  it('the dry run: plan, a worker that exits when idle, verify reports every upload', async () => {
    const r = await shell.run(
      docCommand(
        'docs/uploads.md',
        'convoy plan uploads --dry-run --run dry && convoy worker --exit-when-idle 2000 && convoy verify --run dry',
      ),
      { timeoutMs: 120_000 },
    );
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(num('uploads', r.stdout), r.stdout).toBe(seededUploads);
    expect(r.stdout).toMatch(/^\s+total\s+\d+/m);
  }, 150_000);

  it('the run: two workers, the --watch monitor until done, verify; broken uploads failed with their class', async () => {
    expect((await shell.run(docCommand('docs/uploads.md', 'convoy plan uploads --run r1'))).code).toBe(0);
    // "convoy worker --concurrency 64 &  convoy worker --concurrency 64 &": two background workers
    const line = docCommand('docs/uploads.md', 'convoy worker --concurrency 64 & convoy worker --concurrency 64 &');
    const workers: Background[] = line
      .split('&')
      .map((c) => c.trim())
      .filter(Boolean)
      .map((c) => shell.start(c));
    expect(workers).toHaveLength(2);
    const watch = shell.start(docCommand('docs/uploads.md', 'convoy monitor --run r1 --watch'), {
      env: { CONVOY_LOG_LEVEL: 'warn' },
    });
    const outputs = () => [watch, ...workers].map((p) => p.output()).join('\n---\n');
    await waitUntil(() => /run=r1 state=done /.test(watch.stdoutText()), {
      timeoutMs: 150_000,
      intervalMs: 500,
      what: `the watch line state=done:\n${outputs()}`,
    });
    watch.kill('SIGTERM');
    for (const w of workers) w.kill('SIGTERM');
    expect(await Promise.all(workers.map((w) => w.exited)), outputs()).toEqual([0, 0]);
    await watch.exited;

    const status = JSON.parse((await shell.run('convoy status --run r1 --json')).stdout) as {
      counts: Record<string, number>;
      failuresByClass: Record<string, number>;
    };
    expect(status.counts.pending + status.counts.leased + status.counts.retrying).toBe(0);
    for (const cls of Object.keys(status.failuresByClass)) expect(BROKEN_CLASSES).toContain(cls);
    const v = await shell.run(docCommand('docs/uploads.md', 'convoy verify --run r1'));
    expect(v.code, v.stdout + v.stderr).toBe(1); // exit 1: the broken uploads are differences
    expect({ uploads: num('uploads', v.stdout), ok: num('ok', v.stdout), failed: num('failed', v.stdout) }).toEqual({
      uploads: seededUploads,
      ok: seededUploads - seededBroken,
      failed: seededBroken,
    });
  }, 240_000);

  it('one command on one host: `plan --work` plans and works r2 in one process; exit 1 with the broken uploads failed by class', async () => {
    const r = await shell.run(docCommand('docs/uploads.md', 'convoy plan uploads --run r2 --work'), {
      timeoutMs: 150_000,
    });
    // exit 1: the deliberately broken uploads fail (the status names them by class)
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stdout).toMatch(/^run r2 \(uploads\) state=done$/m);
    expect(r.stdout).toMatch(new RegExp(`^ {2}failed +${seededBroken} `, 'm'));
    expect(r.stdout).toMatch(/^ {2}(pending|leased|retrying) +0 /m);
    const classes = [...r.stdout.slice(r.stdout.indexOf('failures by class:')).matchAll(/^ {2}([A-Z_]+) +\d+$/gm)].map(
      (m) => m[1],
    );
    expect(classes.length, r.stdout).toBeGreaterThan(0);
    for (const cls of classes) expect(BROKEN_CLASSES).toContain(cls);
    expect(r.stdout).toContain('item(s) failed: see `convoy status --run r2`');
    const v = await shell.run('convoy verify --run r2');
    expect(num('ok', v.stdout), v.stdout).toBe(seededUploads - seededBroken);
  }, 180_000);
});
