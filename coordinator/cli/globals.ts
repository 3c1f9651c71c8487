/**
 * Global CLI options (--config, --state-dir, --log-level) and the context built from them.
 */
import type { Command } from 'commander';
import { loadConfig, type ConvoyConfig } from '../../shared/config.js';
import { createContext, type ConvoyContext } from '../../shared/context.js';
import { createLogger } from '../../shared/log.js';

export interface GlobalOptions {
  config?: string;
  stateDir?: string;
  logLevel?: string;
}

export function globalsOf(cmd: Command): GlobalOptions {
  return cmd.optsWithGlobals() as GlobalOptions;
}

export function configFrom(cmd: Command): ConvoyConfig {
  const g = globalsOf(cmd);
  const config = loadConfig({ configPath: g.config, stateDir: g.stateDir });
  if (g.logLevel) config.logLevel = g.logLevel;
  return config;
}

/** Run `fn` with a context; the context's clients are closed afterwards. */
export async function withContext<T>(cmd: Command, fn: (ctx: ConvoyContext) => Promise<T>): Promise<T> {
  const config = configFrom(cmd);
  const ctx = await createContext(config, { log: createLogger(config.logLevel) });
  try {
    return await fn(ctx);
  } finally {
    ctx.close();
  }
}

/** Parse an integer option with a message naming it. */
export function intOption(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n)) throw new Error(`${name} must be an integer, got "${value}"`);
    return n;
  };
}

/** Parse sizes such as 8MiB, 512KiB, 1GB, 1048576. */
export function parseSize(value: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(b|kb|kib|mb|mib|gb|gib)?$/i.exec(value.trim());
  if (!m) throw new Error(`"${value}" is not a size (examples: 8MiB, 512KiB, 1048576)`);
  const units: Record<string, number> = { b: 1, kb: 1e3, kib: 1024, mb: 1e6, mib: 1024 ** 2, gb: 1e9, gib: 1024 ** 3 };
  return Math.round(Number(m[1]) * units[(m[2] ?? 'b').toLowerCase()]!);
}
