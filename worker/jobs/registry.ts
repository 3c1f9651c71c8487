/**
 * The job kinds, registered once. Adding a kind: write its module under worker/jobs/<kind>/ and
 * add its loader to worker/jobs/builtin.ts; the coordinator, worker loop, monitor and CLI pick it
 * up from here.
 *
 * Kinds are loaded on first use (`loadJobKind`): a worker that only ever sees s3-sync items does
 * not pay for the uploads kind's UCAN stack or the table kinds' PostgreSQL driver at start-up.
 */
import { InputError } from '../../shared/errors.js';
import type { JobKind } from './types.js';

const kinds = new Map<string, JobKind<any>>();
const loaders = new Map<string, () => Promise<unknown>>();

export function registerJobKind(kind: JobKind<any>): void {
  kinds.set(kind.kind, kind);
}

/** Make a kind loadable by name; the loader imports the module that calls registerJobKind. */
export function registerJobKindLoader(name: string, load: () => Promise<unknown>): void {
  loaders.set(name, load);
}

function unknownKind(name: string): InputError {
  const known = [...new Set([...kinds.keys(), ...loaders.keys()])];
  return new InputError(`unknown job kind "${name}"; known kinds: ${known.join(', ') || '(none)'}`);
}

/** A kind that is already loaded (planning code that imported it). */
export function getJobKind(name: string): JobKind<any> {
  const kind = kinds.get(name);
  if (!kind) throw unknownKind(name);
  return kind;
}

/** A kind by name, importing its module on first use. */
export async function loadJobKind(name: string): Promise<JobKind<any>> {
  if (!kinds.has(name)) {
    const load = loaders.get(name);
    if (!load) throw unknownKind(name);
    await load();
  }
  return getJobKind(name);
}

export function jobKindNames(): string[] {
  return [...new Set([...kinds.keys(), ...loaders.keys()])];
}
