/**
 * docs/monitor.md's table of error classes, generated from shared/error-classes.ts so the docs
 * cannot drift from the code: `npm run docs:error-classes` rewrites the marked section, and
 * test/unit/error-classes.test.ts fails when the committed table is not what this renders.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ERROR_CLASSES, type ErrorClassInfo } from '../../shared/error-classes.js';

// the same file whether run from the sources (vitest) or compiled (node dist/test/docs/...)
const up = path.resolve(import.meta.dirname, '../..');
export const DOC_PATH = path.join(path.basename(up) === 'dist' ? path.dirname(up) : up, 'docs/monitor.md');
const START = '<!-- error-classes:start: generated from shared/error-classes.ts by `npm run docs:error-classes` -->';
const END = '<!-- error-classes:end -->';

const retried = (r: ErrorClassInfo['retryable']) => (r === 'depends' ? 'depends on the failure' : r ? 'yes' : 'no');

export function errorClassTable(): string {
  const rows = Object.entries(ERROR_CLASSES).map(
    ([name, info]) => `| \`${name}\` | ${retried(info.retryable)} | ${info.hint.replaceAll('|', '\\|')} |`,
  );
  return ['| class | retried | what it means, what to do |', '|---|---|---|', ...rows].join('\n');
}

/** `markdown` with the section between the markers replaced by the current table. */
export function withErrorClassTable(markdown: string): string {
  const start = markdown.indexOf('<!-- error-classes:start');
  const end = markdown.indexOf(END);
  if (start < 0 || end < start) throw new Error(`${DOC_PATH}: the markers ${START} ... ${END} are missing`);
  return `${markdown.slice(0, start)}${START}\n${errorClassTable()}\n${markdown.slice(end)}`;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const before = readFileSync(DOC_PATH, 'utf8');
  const after = withErrorClassTable(before);
  if (after !== before) writeFileSync(DOC_PATH, after);
  process.stdout.write(
    `${path.relative(process.cwd(), DOC_PATH)}: ${after === before ? 'up to date' : 'table rewritten'}\n`,
  );
}
