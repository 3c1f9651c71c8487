// Loaded with `--import` (NODE_OPTIONS) into every process of a host under test: at exit it
// writes how many files, AWS SDK modules and piscina files the process loaded, its modules per
// package (`packages`: {"zod": 40, ...}), and whether it was a supervisor's child
// (CONVOY_WORKER_CHILD, worker/host-link.ts), to $CONVOY_TEST_MODULE_PROBE_DIR/<pid>.json.
// The CLI is a bundle (infra/build/bundle-cli.mjs): the SDK's modules are inside its chunks, each
// under the `// node_modules/@aws-sdk/...` line esbuild writes above it, so the probe reads every
// file the process loaded: ES modules by a load hook (./module-probe-hooks.mjs, which logs each
// one's URL), CommonJS ones from require.cache (an SDK package loaded unbundled is CommonJS).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';
import { fileURLToPath } from 'node:url';

const dir = process.env.CONVOY_TEST_MODULE_PROBE_DIR;
const log = `${dir}/${process.pid}.loaded`;
writeFileSync(log, '');
register(new URL('./module-probe-hooks.mjs', import.meta.url), { data: { log } });

const require = createRequire(import.meta.url);
const BUNDLED_MODULE = /^\/\/ node_modules\/((?:@[^/\s]+\/)?[^/\s]+)\//gm;
/** Modules per package in one loaded file: the file itself, or those bundled into it. */
function packageModules(file, into) {
  const own = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(file);
  if (own) into[own[1]] = (into[own[1]] ?? 0) + 1;
  if (own || !file.endsWith('.js') || !existsSync(file)) return;
  for (const m of readFileSync(file, 'utf8').matchAll(BUNDLED_MODULE)) into[m[1]] = (into[m[1]] ?? 0) + 1;
}

process.on('exit', () => {
  const esm = readFileSync(log, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((url) => fileURLToPath(url));
  const files = new Set([...esm, ...Object.keys(require.cache)]);
  const packages = {};
  for (const file of files) packageModules(file, packages);
  // AWS SDK modules: the @aws-sdk/* packages' share (loaded as files, or inside bundled chunks)
  const sdk = Object.entries(packages).reduce((sum, [name, n]) => (name.startsWith('@aws-sdk/') ? sum + n : sum), 0);
  const child = process.env.CONVOY_WORKER_CHILD !== undefined;
  writeFileSync(
    `${dir}/${process.pid}.json`,
    JSON.stringify({
      child,
      sdk,
      files: files.size,
      piscina: [...files].filter((f) => f.includes('/node_modules/piscina/')).length,
      packages,
    }),
  );
});
