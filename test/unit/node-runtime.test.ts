/**
 * The suite runs on more than one Node (`.ci/run`: this machine's node, then Node 24 fetched by
 * `.ci/node.sh`). A run on Node 24 only tests Node 24 if every process it starts is Node 24 too:
 * the CLI children the tests spawn, and the `node`/`npm run` a doc command line calls by name.
 *
 * - children: every spawn of a Node program in the tests and the source names `process.execPath`,
 *   never `node` from PATH (checked on the text, so a new helper cannot slip back);
 * - names: `node` on the PATH the tests hand to their shells is the runner's own binary;
 * - CI: when `.ci/run` says which version it meant (CONVOY_EXPECT_NODE), the runner is that one;
 * - `.ci/node.sh` refuses a bad argument with exit 2 naming it, fetching and writing nothing.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');
const DIRS = ['test', 'shared', 'state', 'coordinator', 'worker', 'monitor', 'infra'];

function tsFiles(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir)).flatMap((name) => {
    const rel = `${dir}/${name}`;
    if (statSync(path.join(ROOT, rel)).isDirectory()) return name === 'cdk.out' ? [] : tsFiles(rel);
    return rel.endsWith('.ts') ? [rel] : [];
  });
}

/** `spawn('node', ...)`, `execFileSync("node", ...)`, `fork` aside: a child found on PATH. */
const NODE_BY_NAME = /\b(?:spawn|spawnSync|execFile|execFileSync)\(\s*['"`]node['"`]/;

describe('the Node that the suite runs on', () => {
  it('every Node child of the tests and the source is process.execPath, not `node` from PATH', () => {
    const self = path.relative(ROOT, import.meta.filename);
    const offenders = DIRS.flatMap(tsFiles).filter(
      (f) => f !== self && NODE_BY_NAME.test(readFileSync(path.join(ROOT, f), 'utf8')),
    );
    expect(offenders).toEqual([]);
    // the pattern itself finds what it is for
    expect(NODE_BY_NAME.test("spawn('node', [cli])")).toBe(true);
    expect(NODE_BY_NAME.test('spawn(process.execPath, [cli])')).toBe(false);
  });

  it('`node` on PATH (what doc command lines and npm scripts call) is the runner itself', () => {
    const onPath = execFileSync('bash', ['-c', 'node --version'], { encoding: 'utf8' }).trim();
    expect(onPath, `PATH's node is ${onPath}, the runner is ${process.version} (${process.execPath})`).toBe(
      process.version,
    );
  });

  it.runIf(process.env.CONVOY_EXPECT_NODE)('runs on the version .ci/run asked for', () => {
    expect(process.version).toBe(`v${process.env.CONVOY_EXPECT_NODE}`);
  });

  it('.ci/node.sh: a bad version exits 2 naming it, nothing fetched', () => {
    const cache = path.join(ROOT, '.cache');
    const before = existsSync(cache) ? readdirSync(cache).sort() : [];
    const cases: [string, string][] = [
      ['latest', "'latest' is neither a major"],
      ['24.x', "'24.x' is neither a major"],
      ['99', 'no pinned version for Node 99'],
    ];
    for (const [arg, message] of cases) {
      const r = spawnSync('bash', [path.join(ROOT, '.ci/node.sh'), arg], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).toContain(message);
      expect(r.stdout).toBe('');
    }
    expect(existsSync(cache) ? readdirSync(cache).sort() : []).toEqual(before);
  });
});
