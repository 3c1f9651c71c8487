/**
 * Include/exclude filters with aws-cli semantics (the runbooks are written for `aws s3 sync`):
 * patterns match the key relative to the synced prefix; `*` matches any run of characters
 * including `/`, `?` one character, `[...]` a class. Every key is included unless an exclude
 * matches it; a later include re-admits it (later filters take precedence, as in aws-cli).
 */
export interface KeyFilter {
  (relativeKey: string): boolean;
}

export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end < 0) re += '\\[';
      else {
        const body = glob.slice(i + 1, end).replace(/\\/g, '\\\\');
        re += `[${body.startsWith('!') ? '^' + body.slice(1) : body}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\/]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 's');
}

/** Filters in command-line order; `include` and `exclude` lists keep their relative order by kind. */
export function buildKeyFilter(filters: { exclude: string[]; include: string[] }): KeyFilter {
  const rules = [
    ...filters.exclude.map((g) => ({ include: false, re: globToRegExp(g) })),
    ...filters.include.map((g) => ({ include: true, re: globToRegExp(g) })),
  ];
  if (!rules.length) return () => true;
  return (key) => {
    let included = true;
    for (const rule of rules) if (rule.re.test(key)) included = rule.include;
    return included;
  };
}
