/**
 * The declarative mapping from a PostgreSQL row to a DynamoDB item (the transformEvent
 * function of the parking migration's TimescaleDB -> DynamoDB script, as data):
 *
 *   {
 *     "keys":       { "PK": "ZONE#{zone_id}#BAY#{bay_number}", "SK": "EVENT#{timestamp}" },
 *     "attributes": { "GSI1PK": "ZONE#{zone_id}",                       <- a template
 *                     "eventType": { "column": "event_type" },          <- a column, type by value
 *                     "revenue": { "column": "revenue", "type": "N" },  <- a column, converted
 *                     "operatingHours": { "column": "operating_hours", "type": "JSON" } },
 *     "static":     { "entity": "EVENT" },
 *     "includeColumns": false,                                          <- or true, or [names]
 *     "ttl":        { "attribute": "ttl", "addSeconds": 7776000 }       <- run start (or a column) + s
 *   }
 *
 * Pure: `mapRow` turns one row into one item or throws a ConvoyError naming the row and column
 * (class UNCONVERTIBLE_VALUE, or MISSING_KEY for a key template with a NULL in it).
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import * as z from 'zod';
import { ConvoyError, toError } from '../../../shared/errors.js';
import type { AttributeMap } from '../../../shared/item-size.js';

export const VALUE_TYPES = ['S', 'N', 'BOOL', 'JSON', 'SS', 'NS', 'epoch', 'epochMs', 'iso'] as const;

const attributeSpec = z.union([
  z.string().min(1), // template
  z
    .object({
      column: z.string().min(1).optional(),
      template: z.string().min(1).optional(),
      type: z.enum(VALUE_TYPES).optional(),
      /** NULL values: omit the attribute (default) or store NULL */
      nulls: z.enum(['omit', 'null']).optional(),
    })
    .strict()
    .refine((a) => (a.column === undefined) !== (a.template === undefined), {
      message: 'give exactly one of column or template',
    }),
]);

export const mappingSchema = z
  .object({
    keys: z
      .record(z.string().min(1), z.string().min(1))
      .refine((k) => Object.keys(k).length >= 1 && Object.keys(k).length <= 2, {
        message: 'keys needs the partition key template and optionally the sort key template',
      }),
    attributes: z.record(z.string().min(1), attributeSpec).default({}),
    static: z.record(z.string().min(1), z.union([z.string(), z.number(), z.boolean()])).default({}),
    includeColumns: z.union([z.boolean(), z.array(z.string().min(1))]).default(false),
    ttl: z
      .object({
        attribute: z.string().min(1),
        column: z.string().min(1).optional(),
        addSeconds: z.number().int().default(0),
      })
      .strict()
      .optional(),
  })
  .strict();
export type Mapping = z.infer<typeof mappingSchema>;

export type Row = Record<string, unknown>;

const PLACEHOLDER = /\{([^{}]+)\}/g;

/** Columns a mapping reads (for checking them against the source before planning). */
export function mappingColumns(m: Mapping): string[] {
  const cols = new Set<string>();
  const fromTemplate = (t: string) => {
    for (const x of t.matchAll(PLACEHOLDER)) cols.add(x[1]!);
  };
  Object.values(m.keys).forEach(fromTemplate);
  for (const a of Object.values(m.attributes)) {
    if (typeof a === 'string') fromTemplate(a);
    else if (a.column) cols.add(a.column);
    else if (a.template) fromTemplate(a.template);
  }
  if (Array.isArray(m.includeColumns)) m.includeColumns.forEach((c) => cols.add(c));
  if (m.ttl?.column) cols.add(m.ttl.column);
  return [...cols];
}

function unconvertible(rowName: string, column: string, why: string): ConvoyError {
  return new ConvoyError('UNCONVERTIBLE_VALUE', `row ${rowName}: column "${column}" ${why}`, {
    retryable: false,
    context: { row: rowName, column },
  });
}

function scalarText(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (v instanceof Date) return v.toISOString();
  return JSON.stringify(v);
}

export function renderTemplate(t: string, row: Row, rowName: string, forKey: boolean): string {
  return t.replace(PLACEHOLDER, (_, col: string) => {
    if (!(col in row)) throw unconvertible(rowName, col, 'is not in the row (check the mapping)');
    const v = row[col];
    if (v === null || v === undefined) {
      if (forKey)
        throw new ConvoyError('MISSING_KEY', `row ${rowName}: key template needs column "${col}", which is NULL`, {
          retryable: false,
          context: { row: rowName, column: col },
        });
      return '';
    }
    return scalarText(v);
  });
}

const NUMERIC = /^-?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

function epochSeconds(v: unknown, rowName: string, column: string): number {
  const ms =
    typeof v === 'number'
      ? v * 1000
      : Date.parse(typeof v === 'string' ? v.replace(' ', 'T').replace(/\+00$/, 'Z') : String(v));
  if (!Number.isFinite(ms)) throw unconvertible(rowName, column, `value ${JSON.stringify(v)} is not a timestamp`);
  return Math.floor(ms / 1000);
}

/** One value to an AttributeValue, by declared type or (none) by its JavaScript type. */
export function convertValue(
  v: unknown,
  type: (typeof VALUE_TYPES)[number] | undefined,
  rowName: string,
  column: string,
): AttributeValue {
  try {
    switch (type) {
      case 'S':
        return { S: scalarText(v) };
      case 'N': {
        const s = typeof v === 'number' ? String(v) : typeof v === 'string' ? v.trim() : '';
        if (!NUMERIC.test(s) || (typeof v === 'number' && !Number.isFinite(v)))
          throw unconvertible(rowName, column, `value ${JSON.stringify(v)} is not a number (mapping type N)`);
        return { N: s };
      }
      case 'BOOL':
        if (typeof v === 'boolean') return { BOOL: v };
        if (v === 't' || v === 'true') return { BOOL: true };
        if (v === 'f' || v === 'false') return { BOOL: false };
        throw unconvertible(rowName, column, `value ${JSON.stringify(v)} is not a boolean (mapping type BOOL)`);
      case 'JSON': {
        const parsed = typeof v === 'string' ? JSON.parse(v) : v;
        return marshall({ v: parsed }, { removeUndefinedValues: true }).v as AttributeValue;
      }
      case 'SS':
      case 'NS': {
        if (!Array.isArray(v) || v.length === 0)
          throw unconvertible(
            rowName,
            column,
            `value ${JSON.stringify(v)} is not a non-empty array (mapping type ${type})`,
          );
        if (type === 'SS') return { SS: [...new Set(v.map(scalarText))] };
        const ns = v.map((x) => String(x));
        if (!ns.every((x) => NUMERIC.test(x)))
          throw unconvertible(rowName, column, `array ${JSON.stringify(v)} holds a non-number (mapping type NS)`);
        return { NS: [...new Set(ns)] };
      }
      case 'epoch':
        return { N: String(epochSeconds(v, rowName, column)) };
      case 'epochMs': {
        const ms = Date.parse(String(v).replace(' ', 'T'));
        if (!Number.isFinite(ms)) throw unconvertible(rowName, column, `value ${JSON.stringify(v)} is not a timestamp`);
        return { N: String(ms) };
      }
      case 'iso': {
        const ms = Date.parse(String(v).replace(' ', 'T'));
        if (!Number.isFinite(ms)) throw unconvertible(rowName, column, `value ${JSON.stringify(v)} is not a timestamp`);
        return { S: new Date(ms).toISOString() };
      }
      case undefined: {
        if (typeof v === 'string') return { S: v };
        if (typeof v === 'number') return { N: String(v) };
        if (typeof v === 'boolean') return { BOOL: v };
        if (Buffer.isBuffer(v)) return { B: new Uint8Array(v) };
        return marshall({ v }, { removeUndefinedValues: true, convertClassInstanceToMap: false }).v as AttributeValue;
      }
    }
  } catch (err) {
    if (err instanceof ConvoyError) throw err;
    throw unconvertible(rowName, column, `cannot be converted${type ? ` to ${type}` : ''}: ${toError(err).message}`);
  }
}

export function mapRow(row: Row, m: Mapping, rowName: string, runStartedAtMs: number): AttributeMap {
  const item: AttributeMap = {};
  if (m.includeColumns) {
    const cols =
      m.includeColumns === true ? Object.keys(row).filter((c) => !c.startsWith('__convoy_')) : m.includeColumns;
    for (const c of cols) {
      const v = row[c];
      if (v !== null && v !== undefined) item[c] = convertValue(v, undefined, rowName, c);
    }
  }
  for (const [name, s] of Object.entries(m.static)) item[name] = convertValue(s, undefined, rowName, name);
  for (const [name, spec] of Object.entries(m.attributes)) {
    if (typeof spec === 'string') {
      item[name] = { S: renderTemplate(spec, row, rowName, false) };
      continue;
    }
    if (spec.template) {
      item[name] = convertValue(renderTemplate(spec.template, row, rowName, false), spec.type ?? 'S', rowName, name);
      continue;
    }
    const col = spec.column!;
    if (!(col in row)) throw unconvertible(rowName, col, 'is not in the row (check the mapping)');
    const v = row[col];
    if (v === null || v === undefined) {
      if (spec.nulls === 'null') item[name] = { NULL: true };
      continue;
    }
    item[name] = convertValue(v, spec.type, rowName, col);
  }
  if (m.ttl) {
    const base = m.ttl.column ? row[m.ttl.column] : undefined;
    if (m.ttl.column && (base === null || base === undefined)) {
      // no timestamp: no expiry
    } else {
      const sec = m.ttl.column ? epochSeconds(base, rowName, m.ttl.column) : Math.floor(runStartedAtMs / 1000);
      item[m.ttl.attribute] = { N: String(sec + m.ttl.addSeconds) };
    }
  }
  for (const [name, t] of Object.entries(m.keys)) item[name] = { S: renderTemplate(t, row, rowName, true) };
  return item;
}
