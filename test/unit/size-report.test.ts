/**
 * `npm run size-report` as it is run: the compiled script in a child process, here on a small
 * made-up tree (--root) whose sizes are known, and refusing arguments it cannot use.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

const SCRIPT = path.resolve('dist/test/tools/size-report.js');
const run = (...args: string[]) => spawnSync(process.execPath, [SCRIPT, ...args], { encoding: 'utf8' });

let root: string;

beforeAll(() => {
  root = mkdtempSync(path.join(tmpdir(), 'size-report-'));
  const put = (file: string, text: string) => {
    mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    writeFileSync(path.join(root, file), text);
  };
  const body = (n: number) => Array.from({ length: n }, (_, i) => `  const v${i} = ${i};`).join('\n');
  put(
    'coordinator/plan.ts',
    [
      `export function plan(): void {\n${body(10)}\n}`, // 12 lines, from line 1
      `export class Planner {\n  step(): number {\n${body(3)}\n    return 1;\n  }\n}`, // step: 6 lines
      `export const quick = () => {\n${body(1)}\n};`, // 3 lines
      `export const long = '${'x'.repeat(120)}';`, // over 120 characters
      '',
    ].join('\n'),
  );
  put('shared/big.ts', `${Array.from({ length: 200 }, (_, i) => `export const x${i} = ${i};`).join('\n')}\n`);
  // not measured: tests, declarations, node_modules, folders outside the source folders
  put('coordinator/plan.test.ts', `${body(500)}\n`);
  put('shared/types.d.ts', `${body(500)}\n`);
  put('state/node_modules/dep/index.ts', `${body(500)}\n`);
  put('test/huge.ts', `${body(500)}\n`);
});

describe('npm run size-report', () => {
  it('prints the largest files, the longest functions by name and the lines over 120 characters', () => {
    const r = run('--root', root, '--top', '3');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const lines = r.stdout.split('\n');
    expect(r.stdout).toContain('2 files, 224 lines, 3 functions and methods');
    expect(r.stdout).toContain('lines over 120 characters: 1');
    expect(r.stdout).toContain('files over 400 lines: 0');
    const files = lines.indexOf('largest files (top 3):');
    expect(lines.slice(files + 1, files + 3)).toEqual(['    200  shared/big.ts', '     24  coordinator/plan.ts']);
    const fns = lines.indexOf('longest functions and methods (top 3):');
    expect(lines.slice(fns + 1, fns + 4)).toEqual([
      '     12  plan  coordinator/plan.ts:1',
      '      6  Planner.step  coordinator/plan.ts:14',
      '      3  quick  coordinator/plan.ts:21',
    ]);
  });

  it('refuses a --root that is not a source tree and a --top that is not a count: exit 2, no stack', () => {
    const missing = run('--root', path.join(root, 'nope'));
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain(`--root ${path.join(root, 'nope')}: not a directory`);
    expect(missing.stderr).not.toMatch(/\n\s+at /);
    const empty = run('--root', path.join(root, 'test'));
    expect(empty.status).toBe(2);
    expect(empty.stderr).toContain('none of the source folders');
    const top = run('--top', '0');
    expect(top.status).toBe(2);
    expect(top.stderr).toContain('--top 0');
    expect(run('--bogus').stderr).toContain('unknown argument --bogus');
  });
});
