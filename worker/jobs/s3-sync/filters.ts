/**
 * Include/exclude filters with aws-cli semantics (the bucket migrations it replaces were written for `aws s3 sync`, which
 * uses Python's fnmatch): patterns match the key relative to the synced prefix; `*` matches any
 * run of characters including `/`, `?` one character, `[...]` a class (`[!...]` negated). Every key
 * is included unless an exclude matches it; a later include re-admits it.
 *
 * Why not a RegExp: `**********************a` compiled to 22 `.*` in a row and one 14-character
 * key took 31 s of backtracking (a worker at 100% CPU lost its lease and ignored SIGTERM). Globs
 * have no alternation or groups, so a two-pointer matcher that remembers only the last `*` is
 * exact and takes at most keyLength x patternLength steps for any pattern. No npm library fits:
 * minimatch and picomatch are path globs (`*` stops at `/`) and compile to RegExp too.
 */
import { InputError } from '../../../shared/errors.js';

export type KeyFilter = (relativeKey: string) => boolean;

type Token =
  | { kind: 'star' }
  | { kind: 'any' }
  | { kind: 'char'; ch: string }
  | { kind: 'class'; negate: boolean; chars: Set<string>; ranges: Array<[number, number]> };

/** Characters, not UTF-16 units: `?` is one character, as in Python. */
const chars = (s: string): string[] => Array.from(s);

function badPattern(flag: string, glob: string, what: string): InputError {
  return new InputError(`${flag} "${glob}": ${what}`);
}

/** The class starting at `open` (its `[`), or undefined when it is not closed (then `[` is a literal). */
function parseClass(p: string[], open: number, flag: string, glob: string): { token: Token; end: number } | undefined {
  let j = open + 1;
  const negate = p[j] === '!';
  if (negate) j++;
  const bodyStart = j;
  if (p[j] === ']') j++; // a `]` first in the class is a member
  while (j < p.length && p[j] !== ']') j++;
  if (j >= p.length) return undefined;
  const body = p.slice(bodyStart, j);
  const token: Token = { kind: 'class', negate, chars: new Set(), ranges: [] };
  for (let k = 0; k < body.length; k++) {
    if (k + 2 < body.length && body[k + 1] === '-') {
      const lo = body[k]!.codePointAt(0)!;
      const hi = body[k + 2]!.codePointAt(0)!;
      if (lo > hi) {
        // fnmatch silently drops such a range, which leaves a filter that can never match: a typo.
        throw badPattern(
          flag,
          glob,
          `the range ${body[k]}-${body[k + 2]} in [...] is reversed, so it can never match; write it low to high (e.g. [${body[k + 2]}-${body[k]}])`,
        );
      }
      token.ranges.push([lo, hi]);
      k += 2;
    } else token.chars.add(body[k]!);
  }
  return { token, end: j };
}

/** Parse a glob into tokens; runs of `*` collapse into one (same meaning, fewer steps). */
export function parseGlob(glob: string, flag = '--exclude'): Token[] {
  const p = chars(glob);
  const out: Token[] = [];
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    if (c === '*') {
      if (out.at(-1)?.kind !== 'star') out.push({ kind: 'star' });
    } else if (c === '?') out.push({ kind: 'any' });
    else if (c === '[') {
      const cls = parseClass(p, i, flag, glob);
      if (cls) {
        out.push(cls.token);
        i = cls.end;
      } else out.push({ kind: 'char', ch: c });
    } else out.push({ kind: 'char', ch: c });
  }
  return out;
}

function matchesOne(t: Token, ch: string): boolean {
  if (t.kind === 'any') return true;
  if (t.kind === 'char') return t.ch === ch;
  if (t.kind === 'star') return false;
  const cp = ch.codePointAt(0)!;
  const member = t.chars.has(ch) || t.ranges.some(([lo, hi]) => cp >= lo && cp <= hi);
  return member !== t.negate;
}

/**
 * Whole-key match. On a mismatch after a `*`, retry with that `*` taking one more character;
 * earlier stars never need revisiting, because a later `*` can absorb whatever they would have.
 */
export function matchGlob(tokens: Token[], key: string): boolean {
  // Keys without surrogate pairs (nearly all) are indexed directly, without an array copy.
  const k: ArrayLike<string> = /[\ud800-\udfff]/.test(key) ? chars(key) : key;
  let ti = 0;
  let ki = 0;
  let starTi = -1;
  let starKi = 0;
  while (ki < k.length) {
    const t = tokens[ti];
    if (t?.kind === 'star') {
      starTi = ti++;
      starKi = ki;
    } else if (t && matchesOne(t, k[ki]!)) {
      ti++;
      ki++;
    } else if (starTi >= 0) {
      ti = starTi + 1;
      ki = ++starKi;
    } else return false;
  }
  while (tokens[ti]?.kind === 'star') ti++;
  return ti === tokens.length;
}

/**
 * Compile the filters once (bad patterns throw InputError naming the flag and the pattern).
 * Excludes first, then includes: the spec keeps the two lists apart, so an include always comes
 * "later" than every exclude, which is how `aws s3 sync` scripts use them.
 */
export function buildKeyFilter(filters: { exclude: string[]; include: string[] }): KeyFilter {
  const rules = [
    ...filters.exclude.map((g) => ({ include: false, tokens: parseGlob(g, '--exclude') })),
    ...filters.include.map((g) => ({ include: true, tokens: parseGlob(g, '--include') })),
  ];
  if (!rules.length) return () => true;
  return (key) => {
    let included = true;
    for (const rule of rules) if (included !== rule.include && matchGlob(rule.tokens, key)) included = rule.include;
    return included;
  };
}
