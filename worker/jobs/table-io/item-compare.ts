/**
 * Comparing DynamoDB items for verification: numbers by value ("1.50" equals "1.5"), sets in any
 * order, maps by key. Returns the names of the top-level attributes that differ.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { AttributeMap } from '../../../shared/item-size.js';

function normNumber(n: string): string {
  const x = Number(n);
  if (Number.isFinite(x) && String(x) === n.replace(/^\+/, '')) return String(x);
  // long numbers: trim redundant zeros without losing digits
  let s = n.trim().replace(/^\+/, '');
  if (s.includes('.')) s = s.replace(/0+$/, '').replace(/\.$/, '');
  return s.replace(/^(-?)0+(?=\d)/, '$1');
}

export function normalizeValue(v: AttributeValue): unknown {
  if (v.S !== undefined) return { S: v.S };
  if (v.N !== undefined) return { N: normNumber(v.N) };
  if (v.B !== undefined) return { B: Buffer.from(v.B).toString('base64') };
  if (v.BOOL !== undefined) return { BOOL: v.BOOL };
  if (v.NULL !== undefined) return { NULL: true };
  if (v.SS !== undefined) return { SS: [...v.SS].sort() };
  if (v.NS !== undefined) return { NS: v.NS.map(normNumber).sort() };
  if (v.BS !== undefined) return { BS: v.BS.map((b) => Buffer.from(b).toString('base64')).sort() };
  if (v.L !== undefined) return { L: v.L.map(normalizeValue) };
  if (v.M !== undefined) return { M: normalizeItem(v.M) };
  return {};
}

export function normalizeItem(item: AttributeMap): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(item).sort()) out[k] = normalizeValue(item[k]!);
  return out;
}

/** Attribute names whose values differ (present on one side only counts as differing). */
export function differingAttributes(expected: AttributeMap, actual: AttributeMap, ignore: string[] = []): string[] {
  const names = new Set([...Object.keys(expected), ...Object.keys(actual)]);
  const out: string[] = [];
  for (const n of [...names].sort()) {
    if (ignore.includes(n)) continue;
    const a = expected[n];
    const b = actual[n];
    if (!a || !b || JSON.stringify(normalizeValue(a)) !== JSON.stringify(normalizeValue(b))) out.push(n);
  }
  return out;
}
