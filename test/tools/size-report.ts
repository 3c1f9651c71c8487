/**
 * `npm run size-report`: how big the source is, as evidence for "one module per concept, usually
 * 50-400 lines". For the non-test source folders (coordinator worker monitor shared state infra)
 * it prints the 10 largest files by line count, the 10 longest functions and methods (found with
 * the TypeScript compiler API: every function-like node and its line span, from its first token to
 * its closing brace) and how many lines are over 120 characters.
 *
 *   node dist/test/tools/size-report.js [--root DIR] [--top N]
 *
 * `--root` is the repository to measure (default: this one), so the same script measures an
 * older checkout. Self-contained (node built-ins and `typescript` only) for that reason.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

export const SOURCE_FOLDERS = ['coordinator', 'worker', 'monitor', 'shared', 'state', 'infra'] as const;
export const LONG_LINE = 120;
const SKIP_DIRS = new Set(['node_modules', 'dist', 'cdk.out']);

export interface FileSize {
  file: string;
  lines: number;
  longLines: number;
}

export interface FunctionSize {
  file: string;
  name: string;
  /** 1-based line of the function's first token */
  line: number;
  lines: number;
}

export interface SizeReport {
  files: FileSize[];
  functions: FunctionSize[];
}

/** The .ts sources under `root`'s source folders (no declarations, no tests), relative to root. */
export function sourceFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const full = path.join(dir, name);
      if (statSync(full).isDirectory()) {
        if (!SKIP_DIRS.has(name)) walk(full);
      } else if (name.endsWith('.ts') && !name.endsWith('.d.ts') && !name.endsWith('.test.ts')) {
        out.push(path.relative(root, full));
      }
    }
  };
  for (const folder of SOURCE_FOLDERS) if (existsSync(path.join(root, folder))) walk(path.join(root, folder));
  return out;
}

/** What to call a function-like node: its own name, or the name it is assigned to or passed as. */
function functionName(node: ts.SignatureDeclaration, sf: ts.SourceFile): string {
  const own = node.name && !ts.isComputedPropertyName(node.name) ? node.name.getText(sf) : undefined;
  const owner = (n: ts.Node): string | undefined => {
    const cls = n.parent;
    if (cls && (ts.isClassDeclaration(cls) || ts.isClassExpression(cls)) && cls.name) return cls.name.text;
    return undefined;
  };
  if (ts.isConstructorDeclaration(node)) return `${owner(node) ?? '<class>'}.constructor`;
  if (own) {
    const cls = owner(node);
    return cls ? `${cls}.${own}` : own;
  }
  const parent = node.parent;
  if (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent) || ts.isPropertyDeclaration(parent))
    return parent.name.getText(sf);
  if (ts.isCallExpression(parent)) {
    const callee = parent.expression.getText(sf).replace(/\s+/g, ' ');
    return `(callback of ${callee.length > 40 ? `${callee.slice(0, 37)}...` : callee})`;
  }
  return '<anonymous>';
}

/** Every function, method, accessor, constructor and arrow function of one file, with its span. */
export function functionsOf(file: string, text: string): FunctionSize[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const found: FunctionSize[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const start = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line;
      const end = sf.getLineAndCharacterOfPosition(node.getEnd()).line;
      found.push({ file, name: functionName(node, sf), line: start + 1, lines: end - start + 1 });
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}

export function sizeReport(root: string): SizeReport {
  const files: FileSize[] = [];
  const functions: FunctionSize[] = [];
  for (const file of sourceFiles(root)) {
    const text = readFileSync(path.join(root, file), 'utf8');
    const lines = text.split('\n');
    if (lines.at(-1) === '') lines.pop();
    files.push({ file, lines: lines.length, longLines: lines.filter((l) => l.length > LONG_LINE).length });
    functions.push(...functionsOf(file, text));
  }
  return { files, functions };
}

export function formatSizeReport(report: SizeReport, top = 10): string {
  const byLines = <T extends { lines: number }>(xs: T[]) => [...xs].sort((a, b) => b.lines - a.lines).slice(0, top);
  const total = report.files.reduce((n, f) => n + f.lines, 0);
  const longLines = report.files.reduce((n, f) => n + f.longLines, 0);
  const over400 = report.files.filter((f) => f.lines > 400).length;
  return [
    `source folders: ${SOURCE_FOLDERS.join(' ')}`,
    `${report.files.length} files, ${total} lines, ${report.functions.length} functions and methods`,
    `files over 400 lines: ${over400}`,
    `lines over ${LONG_LINE} characters: ${longLines}`,
    '',
    `largest files (top ${top}):`,
    ...byLines(report.files).map((f) => `  ${String(f.lines).padStart(5)}  ${f.file}`),
    '',
    `longest functions and methods (top ${top}):`,
    ...byLines(report.functions).map((f) => `  ${String(f.lines).padStart(5)}  ${f.name}  ${f.file}:${f.line}`),
    '',
  ].join('\n');
}

class UsageError extends Error {}

function parseArgs(argv: string[], defaultRoot: string): { root: string; top: number } {
  let root = defaultRoot;
  let top = 10;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = argv[i + 1];
    if (arg === '--root' || arg === '--top') {
      if (value === undefined) throw new UsageError(`${arg} needs a value`);
      i++;
      if (arg === '--root') {
        root = path.resolve(value);
        if (!existsSync(root) || !statSync(root).isDirectory())
          throw new UsageError(`--root ${value}: not a directory`);
        if (!SOURCE_FOLDERS.some((f) => existsSync(path.join(root, f))))
          throw new UsageError(`--root ${value}: none of the source folders (${SOURCE_FOLDERS.join(', ')}) is there`);
      } else {
        top = Number(value);
        if (!Number.isInteger(top) || top < 1) throw new UsageError(`--top ${value}: expected a whole number >= 1`);
      }
    } else {
      throw new UsageError(`unknown argument ${arg} (usage: size-report [--root DIR] [--top N])`);
    }
  }
  return { root, top };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  // this repository, whether run from the sources or compiled (dist/test/tools/size-report.js)
  const up = path.resolve(import.meta.dirname, '../..');
  const repo = path.basename(up) === 'dist' ? path.dirname(up) : up;
  try {
    const { root, top } = parseArgs(process.argv.slice(2), repo);
    process.stdout.write(formatSizeReport(sizeReport(root), top));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`size-report: ${err.message}\n`);
    process.exitCode = 2;
  }
}
