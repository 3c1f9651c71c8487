/**
 * One source item -> zero or more destination items: the built-in rules, then the user's module
 * (which sees plain JavaScript values: numbers that fit a double are numbers, larger ones
 * NumberValue, so no digit is lost). A failure names the source item's key.
 */
import { NumberValueImpl as NumberValue, marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { ConvoyError, toError } from '../../../shared/errors.js';
import { keyText, type AttributeMap } from '../../../shared/item-size.js';
import { loadTransform, transformOutputs } from '../table-io/transform-module.js';
import { applyRules, hasRules } from './rules.js';
import type { CopySpec } from './spec.js';

export type ItemTransformer = (item: AttributeMap) => Promise<AttributeMap[]> | AttributeMap[];

const wrapNumber = (s: string) => {
  const n = Number(s);
  return String(n) === s ? n : NumberValue.from(s);
};

export async function makeTransformer(spec: CopySpec, sourceKeys: string[]): Promise<ItemTransformer> {
  const rules = hasRules(spec.rules);
  const fn = spec.transform ? await loadTransform(spec.transform) : undefined;
  if (!rules && !fn) return (item) => [item];
  return async (item) => {
    const ruled = rules ? applyRules(item, spec.rules, spec.runStartedAtMs) : item;
    if (!fn) return [ruled];
    let outputs: Record<string, unknown>[];
    try {
      outputs = transformOutputs(await fn(unmarshall(ruled, { wrapNumbers: wrapNumber })));
    } catch (err) {
      throw new ConvoyError(
        'TRANSFORM_FAILED',
        `transform ${spec.transform!.path} failed on source item ${keyText(item, sourceKeys)}: ${toError(err).message}`,
        {
          retryable: false,
          cause: err,
          context: { key: keyText(item, sourceKeys) },
        },
      );
    }
    try {
      return outputs.map(
        (o) => marshall(o, { removeUndefinedValues: true, convertClassInstanceToMap: false }) as AttributeMap,
      );
    } catch (err) {
      throw new ConvoyError(
        'UNCONVERTIBLE_VALUE',
        `transform output for source item ${keyText(item, sourceKeys)} cannot be stored in DynamoDB: ${toError(err).message}`,
        {
          retryable: false,
          cause: err,
          context: { key: keyText(item, sourceKeys) },
        },
      );
    }
  };
}
