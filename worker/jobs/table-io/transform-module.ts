/**
 * User transform modules (`--transform ./transform.ts`): a module whose default export (or
 * `transform` export) is `(item) => item | item[] | null`.
 *
 * The module's source is read and (for .ts/.mts) compiled once, when the run is planned, and the
 * JavaScript is stored in the run's spec: every worker of the fleet runs the same code without
 * needing the file, and a module that does not load fails `convoy plan` before anything is
 * enqueued. Workers write the source to a content-addressed file in the temp directory and import
 * it, so the module must be self-contained (node: built-ins are fine; relative imports are not).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as z from 'zod';
import { InputError, toError } from '../../../shared/errors.js';

/** Runs' specs live in a DynamoDB row (<= 400 KB): keep the module well under that. */
export const MAX_TRANSFORM_SOURCE_BYTES = 128 * 1024;

export const transformSourceSchema = z.object({
  /** the path given on the command line (for messages) */
  path: z.string(),
  /** compiled JavaScript (ESM) */
  source: z.string().max(MAX_TRANSFORM_SOURCE_BYTES),
  sha256: z.string(),
});
export type TransformSource = z.infer<typeof transformSourceSchema>;

export type TransformFn = (input: Record<string, unknown>) => unknown;

/** Read (and compile TypeScript) a transform module; InputError naming the file on any problem. */
export async function readTransformSource(file: string, what = '--transform'): Promise<TransformSource> {
  const abs = path.resolve(file);
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (err) {
    throw new InputError(
      `${what} ${file}: cannot read the module (${toError(err).message}); give the path of a .js, .mjs or .ts file`,
    );
  }
  if (/\.(ts|mts|cts)$/.test(abs)) {
    let ts: typeof import('typescript');
    try {
      ts = (await import('typescript')).default;
    } catch {
      throw new InputError(
        `${what} ${file}: compiling TypeScript needs the "typescript" package; install it or give a compiled .js/.mjs module`,
      );
    }
    const out = ts.transpileModule(text, {
      fileName: abs,
      reportDiagnostics: true,
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    });
    const errors = (out.diagnostics ?? []).filter((d) => d.category === ts.DiagnosticCategory.Error);
    if (errors.length) {
      const msg = errors.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')).join('; ');
      throw new InputError(`${what} ${file} does not compile: ${msg}`);
    }
    text = out.outputText;
  }
  if (Buffer.byteLength(text) > MAX_TRANSFORM_SOURCE_BYTES) {
    throw new InputError(
      `${what} ${file} is larger than ${MAX_TRANSFORM_SOURCE_BYTES} bytes compiled; keep the transform small and self-contained`,
    );
  }
  const src: TransformSource = { path: file, source: text, sha256: createHash('sha256').update(text).digest('hex') };
  await loadTransform(src, what); // loads now: a module that throws on import fails here
  return src;
}

const loaded = new Map<string, Promise<TransformFn>>();

/** Import a stored transform (cached per process by content hash). */
export function loadTransform(src: TransformSource, what = '--transform'): Promise<TransformFn> {
  let p = loaded.get(src.sha256);
  if (!p) {
    p = (async () => {
      const dir = path.join(tmpdir(), 'convoy-transforms');
      mkdirSync(dir, { recursive: true });
      const file = path.join(dir, `${src.sha256}.mjs`);
      if (!existsSync(file)) writeFileSync(file, src.source);
      let mod: Record<string, unknown>;
      try {
        mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
      } catch (err) {
        throw new InputError(`${what} ${src.path} does not load: ${toError(err).message}`);
      }
      const fn = (typeof mod.default === 'function' ? mod.default : mod.transform) as TransformFn | undefined;
      if (typeof fn !== 'function') {
        throw new InputError(
          `${what} ${src.path} must export a function, as "export default (item) => item" or "export function transform(item)"`,
        );
      }
      return fn;
    })();
    loaded.set(src.sha256, p);
    p.catch(() => loaded.delete(src.sha256));
  }
  return p;
}

/** Normalise a transform's result: null/undefined drops, an array expands, an object is one item. */
export function transformOutputs(result: unknown): Record<string, unknown>[] {
  if (result === null || result === undefined) return [];
  if (Array.isArray(result)) {
    for (const r of result) {
      if (r === null || typeof r !== 'object' || Array.isArray(r))
        throw new Error(
          `transform returned an array holding ${r === null ? 'null' : typeof r}; every element must be an item object`,
        );
    }
    return result as Record<string, unknown>[];
  }
  if (typeof result === 'object') return [result as Record<string, unknown>];
  throw new Error(`transform returned ${typeof result}; return an item object, an array of items, or null to drop`);
}
