/**
 * `convoy index build` and `convoy index inspect` as operators run them (the built CLI, real
 * files): the index equals the one built in-process from the same shards; bad input exits 2.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, openSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { contentBytes, encodeShards } from '../../worker/jobs/uploads/seed/dag.js';
import { buildDagIndex } from '../../worker/jobs/uploads/dag-index.js';
import { indexShard } from '../../worker/jobs/uploads/shard-source.js';

const cli = path.resolve('dist/coordinator/cli/main.js');
const dir = mkdtempSync(path.join(tmpdir(), 'convoy-index-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('convoy index build / inspect', () => {
  it('builds the same index as the workers and inspects it', async () => {
    const files: string[] = [];
    const root = await encodeShards(contentBytes('cli', 5_000_000), 'v1-raw', 2 * 1024 * 1024, async (s) => {
      const f = path.join(dir, `s${files.length}.car`);
      writeFileSync(f, s.bytes);
      files.push(f);
    });
    expect(files.length).toBeGreaterThan(1);
    const out = path.join(dir, 'index.car');
    const fd = openSync(out, 'w');
    const r = spawnSync(process.execPath, [cli, 'index', 'build', '--root', root, ...files], {
      stdio: ['ignore', fd, 'pipe'],
      env: { ...process.env, CONVOY_STATE_DIR: dir },
    });
    closeSync(fd);
    expect(r.status, r.stderr.toString()).toBe(0);
    const expected = await buildDagIndex(
      root,
      await Promise.all(files.map((f) => indexShard({ type: 'file', path: f }))),
    );
    expect(Buffer.from(readFileSync(out)).equals(Buffer.from(expected.bytes))).toBe(true);
    const inspected = JSON.parse(
      execFileSync(process.execPath, [cli, 'index', 'inspect', '--json', out], {
        env: { ...process.env, CONVOY_STATE_DIR: dir },
      }).toString(),
    );
    expect(inspected.content).toBe(root);
    expect(inspected.link).toBe(expected.link);
    expect(inspected.shards).toHaveLength(files.length);
  });

  it('exits 2 naming the bad input', () => {
    const r = spawnSync(process.execPath, [cli, 'index', 'build', '--root', 'not-a-cid', path.join(dir, 'nope.car')], {
      env: { ...process.env, CONVOY_STATE_DIR: dir },
    });
    expect(r.status).toBe(2);
    expect(r.stderr.toString()).toMatch(/--root "not-a-cid" is not a CID/);
  });
});
