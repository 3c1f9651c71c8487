/**
 * The error-class registry: every class the code raises is in it (ConvoyError's type enforces
 * that at compile time; these tests hold what the type cannot), its flags agree with the error
 * types that raise them, and docs/monitor.md's table is the one the registry renders.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  ERROR_CLASSES,
  errorClassInfo,
  isErrorClass,
  knownErrorClasses,
  nearestErrorClass,
} from '../../shared/error-classes.js';
import {
  AccessDeniedError,
  InputError,
  LeaseLostError,
  NotFoundError,
  ServiceUnavailableError,
  ThrottledError,
  classifyError,
} from '../../shared/errors.js';
import { formatFailedView } from '../../monitor/views.js';
import { DOC_PATH, withErrorClassTable } from '../docs/error-classes-table.js';

describe('error-class registry', () => {
  it('names each class once, upper snake case, with a one-line hint', () => {
    const names = knownErrorClasses();
    expect(new Set(names).size).toBe(names.length);
    for (const name of names) {
      expect(name).toMatch(/^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/);
      const { hint } = ERROR_CLASSES[name];
      expect(hint.length, name).toBeGreaterThan(10);
      expect(hint, name).not.toMatch(/\n/);
    }
  });

  it('agrees with the retryable flag of the error types that raise each class', () => {
    const raised = [
      new InputError('x'),
      new ServiceUnavailableError('x'),
      new ThrottledError('x'),
      new LeaseLostError('i1'),
      new AccessDeniedError('x'),
      new NotFoundError('SHARD_NOT_FOUND', 'x'),
      classifyError(new Error('something new')),
      classifyError(Object.assign(new Error('aborted'), { name: 'AbortError' })),
    ];
    for (const e of raised) {
      expect(isErrorClass(e.errorClass), e.errorClass).toBe(true);
      expect(errorClassInfo(e.errorClass)?.retryable, e.errorClass).toBe(e.retryable);
    }
  });

  it('answers undefined for a class it does not know (an old row, a typo on the command line)', () => {
    expect(isErrorClass('SHARD_NOT_FOUD')).toBe(false);
    expect(errorClassInfo('toString')).toBeUndefined();
    expect(errorClassInfo('THROTTLED')?.retryable).toBe(true);
  });

  it('names the nearest class for a misspelling, and none for a name far from every class', () => {
    expect(nearestErrorClass('SHARD_NOT_FOUD')).toBe('SHARD_NOT_FOUND');
    expect(nearestErrorClass('access_denied')).toBe('ACCESS_DENIED');
    expect(nearestErrorClass('THROTLED')).toBe('THROTTLED');
    expect(nearestErrorClass('BANANA')).toBeUndefined();
  });

  it('docs/monitor.md holds the table the registry renders (npm run docs:error-classes rewrites it)', () => {
    const doc = readFileSync(DOC_PATH, 'utf8');
    expect(doc, 'docs/monitor.md is out of date: run `npm run docs:error-classes`').toBe(withErrorClassTable(doc));
    for (const name of knownErrorClasses()) expect(doc).toContain(`| \`${name}\` |`);
  });

  it("monitor --failed's per-class totals carry the registry's hint (nothing for a class it does not know)", () => {
    const text = formatFailedView({ runId: 'r1', byClass: { SHARD_CORRUPT: 2, OLD_CLASS: 1 }, items: [] });
    const line = (c: string) => text.split('\n').find((l) => l.trim().startsWith(c)) ?? '';
    expect(line('SHARD_CORRUPT')).toMatch(/^ {2}SHARD_CORRUPT +2 {2}/);
    expect(line('SHARD_CORRUPT')).toContain(ERROR_CLASSES.SHARD_CORRUPT.hint);
    expect(line('OLD_CLASS')).toMatch(/^ {2}OLD_CLASS +1$/);
  });
});
