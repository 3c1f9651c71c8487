/**
 * The built-in rules of dynamodb-copy, applied to raw AttributeValue maps (no marshalling on the
 * hot path): rewrite substrings in every string (nested maps, lists and string sets included),
 * rename and drop top-level attributes, keep/drop/recompute the TTL. Pure functions.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { AttributeMap } from '../../../shared/item-size.js';
import type { CopyRules } from './spec.js';

function rewriteString(s: string, pairs: CopyRules['rewrite']): string {
  let out = s;
  for (const p of pairs) if (out.includes(p.from)) out = out.split(p.from).join(p.to);
  return out;
}

export function rewriteValue(v: AttributeValue, pairs: CopyRules['rewrite']): AttributeValue {
  if (v.S !== undefined) return { S: rewriteString(v.S, pairs) };
  if (v.M !== undefined) {
    const m: AttributeMap = {};
    for (const [k, e] of Object.entries(v.M)) m[k] = rewriteValue(e, pairs);
    return { M: m };
  }
  if (v.L !== undefined) return { L: v.L.map((e) => rewriteValue(e, pairs)) };
  // a set cannot hold duplicates: two strings rewritten to the same value collapse into one
  if (v.SS !== undefined) return { SS: [...new Set(v.SS.map((s) => rewriteString(s, pairs)))] };
  return v;
}

/** Whether any rule would change items (lets the copy skip the per-item walk entirely). */
export function hasRules(rules: CopyRules): boolean {
  return (
    rules.rewrite.length > 0 ||
    rules.rename.length > 0 ||
    rules.drop.length > 0 ||
    (rules.ttl !== undefined && rules.ttl.mode !== 'keep')
  );
}

export function applyRules(item: AttributeMap, rules: CopyRules, runStartedAtMs: number): AttributeMap {
  let out: AttributeMap = item;
  if (rules.rewrite.length) {
    out = {};
    for (const [k, v] of Object.entries(item)) out[k] = rewriteValue(v, rules.rewrite);
  } else {
    out = { ...item };
  }
  for (const r of rules.rename) {
    if (out[r.from] !== undefined) {
      out[r.to] = out[r.from]!;
      delete out[r.from];
    }
  }
  for (const d of rules.drop) delete out[d];
  const ttl = rules.ttl;
  if (ttl && out[ttl.attribute] !== undefined) {
    if (ttl.mode === 'drop') delete out[ttl.attribute];
    else if (ttl.mode === 'recompute')
      out[ttl.attribute] = { N: String(Math.floor(runStartedAtMs / 1000) + (ttl.seconds ?? 0)) };
  }
  return out;
}
