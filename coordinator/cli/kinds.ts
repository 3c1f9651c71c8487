/**
 * The job kinds a CLI program was built with. The composition root (./main.ts) builds one
 * registry and attaches it to the program it builds; commands find it from their own Command
 * (no module-level registry, nothing set at import time: two programs with different kinds, as
 * the tests build, never see each other's).
 */
import type { Command } from 'commander';
import type { KindRegistry } from '../../worker/job-kind.js';

const registries = new WeakMap<Command, KindRegistry>();

export function attachKinds(program: Command, kinds: KindRegistry): void {
  registries.set(program, kinds);
}

/** The registry of the program `cmd` belongs to. */
export function kindsOf(cmd: Command): KindRegistry {
  for (let c: Command | null = cmd; c; c = c.parent) {
    const kinds = registries.get(c);
    if (kinds) return kinds;
  }
  throw new Error(`command ${cmd.name()} is not part of a program built with job kinds`);
}
