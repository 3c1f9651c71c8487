/**
 * The command lines the docs show, read from the docs themselves: the ```bash blocks of a
 * Markdown file, one entry per logical command (continuation lines joined, comments and blank
 * lines dropped, whitespace collapsed). The docs tests run these texts, so a doc that changes
 * changes what its test runs, and a command the tests do not know fails test/docs/coverage.test.ts.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

export const REPO = path.resolve(import.meta.dirname, '../..');

/** The docs whose commands are tests (paths relative to the repository root). */
export const DOCS = [
  'README.md',
  'docs/uploads.md',
  'docs/deploy.md',
  'docs/tables.md',
  'docs/monitor.md',
  'docs/compat.md',
  'docs/operations.md',
  'docs/s3-properties.md',
] as const;
export type Doc = (typeof DOCS)[number];

export interface DocCommand {
  doc: Doc;
  /** 1-based line of the command's first line in the doc */
  line: number;
  /** the nearest heading above the block */
  section: string;
  text: string;
}

/** Drop a `# comment` (a # at the start or after whitespace, outside quotes). */
function stripComment(line: string): string {
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '#' && (i === 0 || /\s/.test(line[i - 1]!))) return line.slice(0, i);
  }
  return line;
}

export function extractCommands(doc: Doc, markdown = readFileSync(path.join(REPO, doc), 'utf8')): DocCommand[] {
  const out: DocCommand[] = [];
  const lines = markdown.split('\n');
  let section = '';
  let inBash = false;
  let inOther = false;
  let pending: { line: number; parts: string[] } | undefined;
  for (const [i, raw] of lines.entries()) {
    const fence = /^\s*```(\S*)/.exec(raw);
    if (fence) {
      if (inBash || inOther) inBash = inOther = false;
      else if (fence[1] === 'bash' || fence[1] === 'sh') inBash = true;
      else inOther = true;
      continue;
    }
    if (!inBash) {
      if (!inOther && raw.startsWith('#')) section = raw.replace(/^#+\s*/, '');
      continue;
    }
    const code = stripComment(raw).trimEnd();
    const continued = code.endsWith('\\');
    const part = (continued ? code.slice(0, -1) : code).trim();
    if (!pending && !part) continue;
    pending ??= { line: i + 1, parts: [] };
    if (part) pending.parts.push(part);
    if (!continued) {
      out.push({ doc, line: pending.line, section, text: pending.parts.join(' ').replace(/\s+/g, ' ') });
      pending = undefined;
    }
  }
  return out;
}

/** The doc's command with exactly this text; fails (naming the doc) when the doc no longer shows it. */
export function docCommand(doc: Doc, text: string): string {
  const found = extractCommands(doc).find((c) => c.text === text);
  if (!found)
    throw new Error(
      `${doc} no longer shows the command \`${text}\`: update test/docs/ (manifest.ts and the test that runs it) with the doc`,
    );
  return found.text;
}
