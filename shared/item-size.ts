/**
 * DynamoDB item sizes, computed the way DynamoDB bills and limits them: attribute names plus
 * values (strings as UTF-8 bytes, numbers ~1 byte per 2 digits + 1, 3 bytes of overhead per list
 * or map plus 1 per element). Used to reject items over 400 KB before a batch is sent (one bad
 * item would fail the whole BatchWriteItem) and to estimate WCUs (1 per started KB) for the budget.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';

export const MAX_ITEM_BYTES = 400 * 1024;

export type AttributeMap = Record<string, AttributeValue>;

const utf8 = (s: string) => Buffer.byteLength(s, 'utf8');

function numberSize(n: string): number {
  const digits = n.replace(/^-/, '').replace(/^0+/, '').replace('.', '').replace(/e.*$/i, '').length;
  return Math.ceil(Math.max(1, digits) / 2) + 1;
}

export function valueSize(v: AttributeValue): number {
  if (v.S !== undefined) return utf8(v.S);
  if (v.N !== undefined) return numberSize(v.N);
  if (v.B !== undefined) return v.B.byteLength;
  if (v.BOOL !== undefined || v.NULL !== undefined) return 1;
  if (v.SS !== undefined) return v.SS.reduce((a, s) => a + utf8(s), 0);
  if (v.NS !== undefined) return v.NS.reduce((a, s) => a + numberSize(s), 0);
  if (v.BS !== undefined) return v.BS.reduce((a, b) => a + b.byteLength, 0);
  if (v.L !== undefined) return 3 + v.L.reduce((a, e) => a + 1 + valueSize(e), 0);
  if (v.M !== undefined) return 3 + Object.entries(v.M).reduce((a, [k, e]) => a + 1 + utf8(k) + valueSize(e), 0);
  return 0;
}

export function itemSize(item: AttributeMap): number {
  let size = 0;
  for (const [name, v] of Object.entries(item)) size += utf8(name) + valueSize(v);
  return size;
}

/** Write capacity units for one put of this size (1 WCU per started KB). */
export function writeUnits(bytes: number): number {
  return Math.max(1, Math.ceil(bytes / 1024));
}

/** A short, stable text naming an item by its key attributes, for error messages and reports. */
export function keyText(item: AttributeMap, keys: string[]): string {
  return keys
    .map((k) => {
      const v = item[k];
      const text = v?.S ?? v?.N ?? (v?.B ? `0x${Buffer.from(v.B).toString('hex').slice(0, 32)}` : '(missing)');
      return `${k}=${text.length > 120 ? text.slice(0, 120) + '...' : text}`;
    })
    .join(', ');
}

export function keyOf(item: AttributeMap, keys: string[]): AttributeMap {
  const out: AttributeMap = {};
  for (const k of keys) if (item[k]) out[k] = item[k]!;
  return out;
}
