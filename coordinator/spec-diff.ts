/**
 * What differs between the spec a run was planned with and the one asked for now: re-planning a
 * run id with another spec (a corrected --exclude, another customers file) must not be silently
 * ignored. Pure: paths and values, shortened for a terminal.
 */

/** The paths at which `before` and `after` differ, each as `path: before -> after`. */
export function specDifferences(before: unknown, after: unknown, path = '', out: string[] = []): string[] {
  if (out.length >= 10) return out;
  if (isPlainObject(before) && isPlainObject(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    for (const key of keys) specDifferences(before[key], after[key], path ? `${path}.${key}` : key, out);
    return out;
  }
  if (Array.isArray(before) && Array.isArray(after) && before.length === after.length && before.length > 20) {
    // long lists (customers): name the first differing positions, not the whole list
    for (let i = 0; i < before.length && out.length < 10; i++)
      specDifferences(before[i], after[i], `${path}[${i}]`, out);
    return out;
  }
  if (canonical(before) !== canonical(after)) out.push(`${path || '(spec)'}: ${show(before)} -> ${show(after)}`);
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** JSON with sorted keys and no undefined fields (what a DynamoDB round trip keeps). */
export function canonical(v: unknown): string {
  return (
    JSON.stringify(v, (_k, value: unknown) =>
      isPlainObject(value)
        ? Object.fromEntries(
            Object.keys(value)
              .sort()
              .filter((k) => value[k] !== undefined)
              .map((k) => [k, value[k]]),
          )
        : value,
    ) ?? 'undefined'
  );
}

function show(v: unknown): string {
  if (v === undefined) return '(unset)';
  const text = canonical(v);
  if (Array.isArray(v) && text.length > 80) return `[${v.length} entries]`;
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
