/**
 * The dependency direction of README's Layout section, checked on every import (static and
 * dynamic) of the source tree:
 *
 *   shared <- state <- engine (coordinator, worker's loop, monitor, infra) <- kinds (worker/jobs/<kind>/)
 *   <- the composition roots (coordinator/cli/main.ts, infra/cdk/app.ts), the only modules that
 *   import the list of built-in kinds.
 *
 * `npm run cycles` finds cycles; this finds an import that points the wrong way even when it
 * makes no cycle (the engine importing a kind is how `worker --customers-file` once broke).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');
const SOURCE_DIRS = ['shared', 'state', 'coordinator', 'worker', 'monitor', 'infra'];
const ROOTS = new Set(['coordinator/cli/main.ts', 'infra/cdk/app.ts']);
const KIND_LIST = 'worker/jobs/builtin.ts';
/** code the table kinds share: a library of kinds, imported by kinds only */
const KIND_LIBRARY = 'worker/jobs/table-io/';

function sourceFiles(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir)).flatMap((name) => {
    const rel = `${dir}/${name}`;
    if (statSync(path.join(ROOT, rel)).isDirectory()) return sourceFiles(rel);
    return rel.endsWith('.ts') && !rel.endsWith('.d.ts') ? [rel] : [];
  });
}

/** Every relative module a file imports (import/export ... from, import()), as repo paths. */
function importsOf(file: string, text = readFileSync(path.join(ROOT, file), 'utf8')): string[] {
  const specs = [
    ...text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]/g),
    ...text.matchAll(/\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g),
    ...text.matchAll(/new URL\(\s*['"](\.[^'"]+)['"]\s*,\s*import\.meta\.url/g),
    ...text.matchAll(/(?:^|\n)\s*import\s+['"]([^'"]+)['"]/g),
  ].map((m) => m[1]!);
  return specs
    .filter((s) => s.startsWith('.'))
    .map((s) => path.posix.normalize(path.posix.join(path.posix.dirname(file), s)).replace(/\.js$/, '.ts'));
}

type Layer = 'shared' | 'state' | 'engine' | 'kind' | 'kind-library' | 'kind-list' | 'root';

function layerOf(file: string): Layer {
  if (ROOTS.has(file)) return 'root';
  if (file === KIND_LIST) return 'kind-list';
  if (file.startsWith(KIND_LIBRARY)) return 'kind-library';
  if (file.startsWith('worker/jobs/')) return 'kind';
  if (file.startsWith('shared/')) return 'shared';
  if (file.startsWith('state/')) return 'state';
  return 'engine';
}

const kindOf = (file: string) => file.split('/')[2];

/** Why `from` may not import `to`, or undefined when it may. */
function violation(from: string, to: string): string | undefined {
  const a = layerOf(from);
  const b = layerOf(to);
  const allowed: Record<Layer, Layer[]> = {
    shared: ['shared'],
    state: ['shared', 'state'],
    engine: ['shared', 'state', 'engine'],
    'kind-library': ['shared', 'state', 'engine', 'kind-library'],
    kind: ['shared', 'state', 'engine', 'kind-library', 'kind'],
    'kind-list': ['kind', 'engine'],
    root: ['shared', 'state', 'engine', 'kind-list', 'kind'],
  };
  if (!allowed[a].includes(b)) return `${a} must not import ${b}`;
  if (a === 'kind' && b === 'kind' && kindOf(from) !== kindOf(to)) return 'a kind must not import another kind';
  return undefined;
}

describe('dependency direction', () => {
  it('the rule itself: each wrong direction is named', () => {
    expect(violation('worker/worker.ts', 'worker/jobs/uploads/plugin.ts')).toBe('engine must not import kind');
    expect(violation('coordinator/plan.ts', 'worker/jobs/builtin.ts')).toBe('engine must not import kind-list');
    expect(violation('state/runs.ts', 'coordinator/plan.ts')).toBe('state must not import engine');
    expect(violation('shared/config.ts', 'state/runs.ts')).toBe('shared must not import state');
    expect(violation('worker/jobs/pg-to-dynamodb/plan.ts', 'worker/jobs/dynamodb-copy/plan-command.ts')).toBe(
      'a kind must not import another kind',
    );
    expect(violation('worker/jobs/pg-to-s3/job.ts', 'worker/jobs/table-io/pg-source.ts')).toBeUndefined();
    expect(violation('coordinator/cli/main.ts', 'worker/jobs/builtin.ts')).toBeUndefined();
    expect(importsOf('x/a.ts', "import { b } from './b.js';\nconst c = await import('../c/d.js');")).toEqual([
      'x/b.ts',
      'c/d.ts',
    ]);
  });

  it('every import of the source tree points the way README says', () => {
    const wrong: string[] = [];
    let checked = 0;
    for (const file of SOURCE_DIRS.flatMap(sourceFiles))
      for (const to of importsOf(file)) {
        checked++;
        const why = violation(file, to);
        if (why) wrong.push(`${file} -> ${to}: ${why}`);
      }
    expect(checked).toBeGreaterThan(500);
    expect(wrong).toEqual([]);
  });
});
