/** Pure logic of the table jobs: rules, mapping, ranges, partitions, budget, sizes, comparison. */
import { describe, expect, it } from 'vitest';
import { applyRules, rewriteValue } from '../../worker/jobs/dynamodb-copy/rules.js';
import { parsePairs, parseTtl } from '../../worker/jobs/dynamodb-copy/spec.js';
import { differingAttributes } from '../../worker/jobs/table-io/item-compare.js';
import { convertValue, mapRow, mappingColumns, mappingSchema } from '../../worker/jobs/pg-to-dynamodb/mapping.js';
import { rangeCondition, rangesFromBoundaries, quantileFractions } from '../../worker/jobs/table-io/key-ranges.js';
import { CapacityBudget, shareOf } from '../../worker/budget/capacity-budget.js';
import { itemSize, writeUnits } from '../../shared/item-size.js';
import { preparePuts } from '../../worker/jobs/table-io/batch-writer.js';
import { isoTimestamp, checkPgUrl } from '../../worker/jobs/table-io/pg-source.js';
import { parseTableRef } from '../../worker/jobs/table-io/table-ref.js';
import { overlapping, partitionKey, rowLine } from '../../worker/jobs/pg-to-s3/partitions.js';
import { parsePartition } from '../../worker/jobs/pg-to-s3/spec.js';

describe('dynamodb-copy rules', () => {
  const rules = {
    rewrite: [{ from: 'dev-raw', to: 'prod-raw' }],
    rename: [{ from: 'a', to: 'b' }],
    drop: ['gone'],
    ttl: { attribute: 'ttl', mode: 'recompute' as const, seconds: 100 },
  };
  it('rewrites every string, nested in maps, lists and sets', () => {
    const v = rewriteValue(
      { M: { x: { L: [{ S: 's3://dev-raw/1' }, { N: '1' }, { SS: ['dev-raw', 'prod-raw'] }] } } },
      rules.rewrite,
    );
    expect(v).toEqual({ M: { x: { L: [{ S: 's3://prod-raw/1' }, { N: '1' }, { SS: ['prod-raw'] }] } } });
  });
  it('renames, drops and recomputes the TTL from the run start (deterministic)', () => {
    const out = applyRules({ a: { S: 'dev-raw' }, gone: { S: 'x' }, ttl: { N: '1' }, k: { S: 'k' } }, rules, 10_000);
    expect(out).toEqual({ b: { S: 'prod-raw' }, ttl: { N: '110' }, k: { S: 'k' } });
    expect(applyRules({ k: { S: 'k' } }, rules, 10_000)).toEqual({ k: { S: 'k' } }); // no TTL: none added
    expect(applyRules({ ttl: { N: '5' } }, { ...rules, ttl: { attribute: 'ttl', mode: 'drop' } }, 0)).toEqual({});
  });
  it('parses flags with messages naming them', () => {
    expect(parsePairs(['a=b', 'x=='], '--rewrite')).toEqual([
      { from: 'a', to: 'b' },
      { from: 'x', to: '=' },
    ]);
    expect(() => parsePairs(['nope'], '--rewrite')).toThrow(/--rewrite "nope"/);
    expect(parseTtl('ttl:recompute=60')).toEqual({ attribute: 'ttl', mode: 'recompute', seconds: 60 });
    expect(parseTtl('expires')).toEqual({ attribute: 'expires', mode: 'keep', seconds: undefined });
    expect(() => parseTtl('ttl:recompute')).toThrow(/--ttl/);
    expect(parseTableRef('local:dev-table', '--from')).toEqual({ remote: 'local', table: 'dev-table' });
    expect(() => parseTableRef('dev-table', '--from')).toThrow(/remote:table/);
  });
});

describe('pg-to-dynamodb mapping', () => {
  const m = mappingSchema.parse({
    keys: { PK: 'ZONE#{zone_id}#BAY#{bay_number}', SK: 'EVENT#{ts}' },
    attributes: {
      GSI1PK: 'ZONE#{zone_id}',
      revenue: { column: 'revenue', type: 'N' },
      hours: { column: 'hours', type: 'JSON' },
      when: { column: 'ts', type: 'epoch' },
      note: { column: 'note' },
    },
    static: { entity: 'EVENT' },
    ttl: { attribute: 'ttl', addSeconds: 60 },
  });
  const row = {
    zone_id: 'z1',
    bay_number: 3,
    ts: '2024-01-01T00:00:10Z',
    revenue: '12.50',
    hours: { open: '06:00' },
    note: null,
  };
  it('renders keys and attributes, converts types, omits NULLs, sets the TTL', () => {
    expect(mapRow(row, m, 'r1', 1_000_000)).toEqual({
      PK: { S: 'ZONE#z1#BAY#3' },
      SK: { S: 'EVENT#2024-01-01T00:00:10Z' },
      GSI1PK: { S: 'ZONE#z1' },
      revenue: { N: '12.50' },
      hours: { M: { open: { S: '06:00' } } },
      when: { N: '1704067210' },
      entity: { S: 'EVENT' },
      ttl: { N: '1060' },
    });
    expect(mappingColumns(m).sort()).toEqual(['bay_number', 'hours', 'note', 'revenue', 'ts', 'zone_id']);
  });
  it('names the row and column of a value it cannot convert', () => {
    expect(() => mapRow({ ...row, revenue: 'n/a' }, m, 'events id=7', 0)).toThrow(
      /row events id=7: column "revenue" value "n\/a" is not a number/,
    );
    expect(() => mapRow({ ...row, zone_id: null }, m, 'events id=8', 0)).toThrow(
      /events id=8: key template needs column "zone_id"/,
    );
    expect(() => convertValue('{bad json', 'JSON', 'r', 'c')).toThrow(/row r: column "c" cannot be converted to JSON/);
    expect(() => convertValue('yesterday', 'epoch', 'r', 'c')).toThrow(/not a timestamp/);
    expect(convertValue(['a', 'a', 'b'], 'SS', 'r', 'c')).toEqual({ SS: ['a', 'b'] });
    expect(convertValue('t', 'BOOL', 'r', 'c')).toEqual({ BOOL: true });
  });
});

describe('key ranges and partitions', () => {
  it('turns quantiles into half-open ranges covering everything, collapsing skew', () => {
    expect(quantileFractions(4)).toEqual([0.25, 0.5, 0.75]);
    expect(rangesFromBoundaries(['10', '10', '20'])).toEqual([
      { lo: null, hi: '10' },
      { lo: '10', hi: '20' },
      { lo: '20', hi: null },
    ]);
    expect(rangesFromBoundaries([])).toEqual([{ lo: null, hi: null }]);
    const params: unknown[] = ['x'];
    expect(rangeCondition('ts', 'timestamp with time zone', { lo: 'a', hi: 'b' }, params)).toBe(
      '"ts" >= $2::timestamp with time zone AND "ts" < $3::timestamp with time zone',
    );
    expect(params).toEqual(['x', 'a', 'b']);
  });
  it('names partitions by time and picks those overlapping a window', () => {
    expect(parsePartition('hour')).toBe(3600);
    expect(parsePartition('6h')).toBe(21600);
    expect(() => parsePartition('weekly')).toThrow(/--partition/);
    expect(partitionKey('store/', 'events', 1704081600)).toBe('store/events/2024/01/01/20240101T040000Z.ndjson.gz');
    const parts = [2, 0, 1].map((i) => ({ startSec: i * 100, endSec: (i + 1) * 100 }));
    expect(overlapping(parts, 50_000, 150_000).map((p) => p.startSec)).toEqual([0, 100]);
    expect(rowLine({ a: 1, b: Buffer.from('hi') })).toBe('{"a":1,"b":"aGk="}\n');
    expect(isoTimestamp('2024-01-01 05:00:00.123456+00')).toBe('2024-01-01T05:00:00.123456Z');
    expect(() => checkPgUrl('postgres://u:pw@h/db', '--from')).toThrow(/PGPASSWORD/);
  });
});

describe('capacity budget', () => {
  it('waits for refill, takes debt from under-estimates and refunds over-estimates', async () => {
    let now = 0;
    const slept: number[] = [];
    const b = new CapacityBudget({
      unitsPerSecond: 100,
      now: () => now,
      sleep: async (ms) => {
        slept.push(ms);
        now += ms;
      },
    });
    await b.acquire(100); // full bucket
    expect(slept).toEqual([]);
    expect(b.delayFor(50)).toBe(500);
    await b.acquire(50);
    expect(slept).toEqual([500]);
    b.settle(50, 80); // 30 more consumed than estimated: debt
    expect(b.delayFor(10)).toBe(400);
    b.settle(40, 0); // refund
    expect(b.delayFor(10)).toBe(0);
    expect(shareOf(1000, 4)).toBe(250);
    expect(shareOf(1, 10)).toBe(1);
  });
});

describe('item sizes, batches and comparison', () => {
  it('sizes items like DynamoDB and de-duplicates a batch by key', () => {
    expect(itemSize({ ab: { S: 'xyz' }, n: { N: '12345' } })).toBe(2 + 3 + 1 + 4);
    expect(writeUnits(1024)).toBe(1);
    expect(writeUnits(1025)).toBe(2);
    const { puts, duplicates } = preparePuts(
      [{ PK: { S: 'a' }, v: { N: '1' } }, { PK: { S: 'a' }, v: { N: '2' } }, { PK: { S: 'b' } }],
      ['PK'],
    );
    expect(duplicates).toBe(1);
    expect(puts.map((p) => p.item.v?.N)).toEqual(['2', undefined]);
  });
  it('compares numbers by value and sets in any order', () => {
    expect(
      differingAttributes({ a: { N: '1.50' }, s: { SS: ['x', 'y'] } }, { a: { N: '1.5' }, s: { SS: ['y', 'x'] } }),
    ).toEqual([]);
    expect(differingAttributes({ a: { N: '1' }, b: { S: 'x' } }, { a: { N: '2' } })).toEqual(['a', 'b']);
  });
});
