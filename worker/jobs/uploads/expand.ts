/**
 * Fleet-side planning: items that turn into more items, so a customer with many spaces or a
 * space with a million uploads never stalls the coordinator. Each page is its own item; ids are
 * deterministic, so a retried page re-adds the same children (kept, not duplicated).
 */
import type { ItemRow, NewItem } from '../../../state/item-row.js';
import type { ItemContext, ItemOutcome } from '../../job-kind.js';
import type { UploadsRuntime } from './runtime.js';
import { consumersPage, shardsOf, spacesOfCustomer, uploadsPage, type UploadRow } from './source-tables.js';
import { itemIds, MAX_SHARDS_IN_ITEM, type ItemSpec, type UploadsSpec } from './spec.js';

export const KIND = 'uploads';

/** The monitor's group convention (monitor/filters.ts): `<customer>/<space>`, or the customer alone. */
export const groupOf = (customer: string, space?: string) => (space ? `${customer}/${space}` : customer);

/** An upload's item; given its row, the shards travel in the item so the worker need not read the row again. */
export function uploadItem(customer: string, space: string, root: string, row?: UploadRow): NewItem {
  const shards = row ? shardsOf(row) : undefined;
  const spec: ItemSpec = {
    type: 'upload',
    customer,
    space,
    root,
    ...(shards && shards.length <= MAX_SHARDS_IN_ITEM ? { shards } : {}),
  };
  return { itemId: itemIds.upload(space, root), kind: KIND, group: groupOf(customer, space), spec };
}
export function spaceItem(customer: string, space: string, after = ''): NewItem {
  return {
    itemId: itemIds.space(space, after),
    kind: KIND,
    group: groupOf(customer, space),
    spec: { type: 'space', customer, space, after } satisfies ItemSpec,
  };
}
export function customerItem(customer: string): NewItem {
  return {
    itemId: itemIds.customer(customer),
    kind: KIND,
    group: customer,
    spec: { type: 'customer', customer } satisfies ItemSpec,
  };
}
export function scanItem(segment: number, segments: number): NewItem {
  return {
    itemId: itemIds.scan(segment, segments),
    kind: KIND,
    group: 'all',
    spec: { type: 'scan', segment, segments } satisfies ItemSpec,
  };
}

export async function expandItem(
  item: ItemRow,
  ictx: ItemContext<UploadsSpec>,
  rt: UploadsRuntime,
): Promise<ItemOutcome> {
  const spec = item.spec as ItemSpec;
  switch (spec.type) {
    case 'customer': {
      const spaces = await spacesOfCustomer(rt.tables, spec.customer);
      await ictx.addChildren(spaces.map((s) => spaceItem(spec.customer, s)));
      return { bytes: 0, objects: 0, children: spaces.length };
    }
    case 'space': {
      const page = await uploadsPage(rt.tables, spec.space, spec.after || undefined, ictx.spec.pageSize);
      const children = page.rows.map((r) => uploadItem(spec.customer, spec.space, r.root, r));
      if (page.last) children.push(spaceItem(spec.customer, spec.space, page.last));
      await ictx.addChildren(children);
      return { bytes: 0, objects: 0, children: children.length };
    }
    case 'scan': {
      let start = (item.checkpoint as { next?: Record<string, unknown> } | undefined)?.next;
      let n = 0;
      do {
        const page = await consumersPage(rt.tables, spec.segment, spec.segments, start);
        await ictx.addChildren(page.rows.map((r) => spaceItem(r.customer, r.consumer)));
        n += page.rows.length;
        start = page.next;
        if (start) await ictx.saveCheckpoint({ next: start }, { spaces: n });
      } while (start);
      return { bytes: 0, objects: 0, children: n };
    }
    default:
      throw new Error(`not an expanding item: ${item.itemId}`);
  }
}
