/**
 * The coordinator's part of planning: turn the target into the first items. Without --limit the
 * targets stay coarse (customers, spaces, scan segments) and the fleet expands them; with
 * --limit the coordinator lists at most N uploads itself (a bounded sample), in page order.
 */
import { readFileSync } from 'node:fs';
import { InputError } from '../../../shared/errors.js';
import type { NewItem } from '../../../state/item-row.js';
import type { PlanContext } from '../../job-kind.js';
import { customerItem, scanItem, spaceItem, uploadItem } from './expand.js';
import { uploadsRuntime } from './runtime.js';
import { consumersPage, customerOfSpace, spacesOfCustomer, uploadsPage, type SourceTables } from './source-tables.js';
import type { UploadsSpec } from './spec.js';

/** Customers from a file: a JSON array of DIDs, or {customers: [...]} (what `convoy distribute` writes). */
export function readCustomersFile(file: string): string[] {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new InputError(
      `--customers-file ${file}: ${(err as Error).message}; give a JSON array of customer DIDs or the file \`convoy distribute\` wrote`,
    );
  }
  const list = Array.isArray(raw) ? raw : (raw as { customers?: unknown })?.customers;
  if (!Array.isArray(list) || !list.every((c) => typeof c === 'string' && c.startsWith('did:'))) {
    throw new InputError(
      `--customers-file ${file} must hold a JSON array of customer DIDs (did:mailto:...) or {"customers": [...]}`,
    );
  }
  if (!list.length) throw new InputError(`--customers-file ${file} lists no customers`);
  // A customer listed twice would be planned (and counted) twice: a merge gone wrong, not intent.
  const seen = new Set<string>();
  const dupes = [...new Set((list as string[]).filter((c) => seen.has(c) || !seen.add(c)))];
  if (dupes.length) {
    throw new InputError(
      `--customers-file ${file} lists ${dupes.length} customer(s) more than once: ${dupes.slice(0, 5).join(', ')}${dupes.length > 5 ? ', ...' : ''}; list each customer once`,
    );
  }
  return list as string[];
}

async function* limitedUploadsOfSpace(
  t: SourceTables,
  customer: string,
  space: string,
  budget: { left: number },
): AsyncGenerator<NewItem> {
  let after: string | undefined;
  do {
    const page = await uploadsPage(t, space, after, Math.min(500, budget.left));
    for (const row of page.rows) {
      if (budget.left <= 0) return;
      budget.left--;
      yield uploadItem(customer, space, row.root, row);
    }
    after = page.last;
  } while (after && budget.left > 0);
}

export async function* planUploads(spec: UploadsSpec, pctx: PlanContext): AsyncGenerator<NewItem> {
  const rt = await uploadsRuntime(pctx.ctx);
  const t = rt.tables;
  const target = spec.target;
  const customerOf = async (space: string) => {
    const c = await customerOfSpace(t, space);
    if (!c)
      throw new InputError(`--space ${space} has no row in the consumer table ${t.names.consumer}: check the DID`);
    return c;
  };
  if (target.type === 'upload') {
    yield uploadItem(await customerOf(target.space), target.space, target.root);
    return;
  }
  if (spec.limit === undefined) {
    if (target.type === 'space') yield spaceItem(await customerOf(target.space), target.space);
    else if (target.type === 'customers') for (const c of target.customers) yield customerItem(c);
    else for (let i = 0; i < target.segments; i++) yield scanItem(i, target.segments);
    return;
  }
  const budget = { left: spec.limit };
  if (target.type === 'space') {
    yield* limitedUploadsOfSpace(t, await customerOf(target.space), target.space, budget);
  } else if (target.type === 'customers') {
    for (const c of target.customers) {
      for (const s of await spacesOfCustomer(t, c)) {
        yield* limitedUploadsOfSpace(t, c, s, budget);
        if (budget.left <= 0) return;
      }
    }
  } else {
    let start: Record<string, unknown> | undefined;
    do {
      const page = await consumersPage(t, 0, 1, start);
      for (const r of page.rows) {
        yield* limitedUploadsOfSpace(t, r.customer, r.consumer, budget);
        if (budget.left <= 0) return;
      }
      start = page.next;
    } while (start);
  }
}
