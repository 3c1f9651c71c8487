/**
 * Files of the installed package, by their place in the checkout: for code that hands a file to
 * another process or thread (the local stack's daemon, a kind's local services, a piscina task)
 * or reads one that ships beside the code (the DynamoDB Local launcher's Java source).
 *
 * Why not `new URL('./x.js', import.meta.url)`: the `convoy` command runs as a bundle
 * (infra/build/bundle-cli.mjs) whose chunks live in dist/coordinator/cli/chunks/, so a module's
 * own URL no longer says where its neighbours are. The package's root does: the nearest folder
 * above this module whose package.json names this package, the same from the source (vitest),
 * from tsc's dist/ and from the bundle.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const PACKAGE_NAME = 'convoy';

let root: string | undefined;

/** The folder holding the package's package.json (the checkout, or /opt/convoy on a host). */
export function packageRoot(): string {
  if (root) return root;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = path.join(dir, 'package.json');
    if (
      existsSync(manifest) &&
      (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === PACKAGE_NAME
    ) {
      root = dir;
      return root;
    }
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`no package.json of ${PACKAGE_NAME} above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}

/** A file of the checkout, e.g. `packageFile('infra/local/aws-local/Launcher.java')`. */
export function packageFile(rel: string): string {
  return path.join(packageRoot(), rel);
}

/** A compiled module in dist/ by its path there, e.g. `builtFile('infra/local/daemon.js')`. */
export function builtFile(rel: string): string {
  return path.join(packageRoot(), 'dist', rel);
}

/** The same as a file: URL (what `import()` and piscina take). */
export function builtUrl(rel: string): URL {
  return pathToFileURL(builtFile(rel));
}
