/**
 * Credentials written into a URL (`http://USER:PASS@host`, `postgres://user:pw@db/x`) end up in
 * error texts the SDKs and drivers produce, and from there in logs and on terminals. One helper
 * masks them wherever text leaves the process: the CLI's error printer and the logger.
 */

// scheme://userinfo@ : userinfo is everything up to the last '@' before the host, with no
// whitespace or '/' (a password may itself contain ':' or an unencoded '@').
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@]+(?:@[^\s/?#@]+)*@/gi;

export const REDACTED = '[redacted]';

/** Mask the user and password of every URL in `text`; text without any stays the same string. */
export function redact(text: string): string {
  if (!text.includes('@')) return text;
  return text.replace(URL_USERINFO, `$1${REDACTED}@`);
}

/**
 * `redact` applied to every string in a JSON-like value (log objects). Arrays and plain objects
 * are copied only when something changed; errors become their redacted message and stack.
 */
export function redactDeep(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redact(value);
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) {
    const copy = Object.assign(Object.create(Object.getPrototypeOf(value) as object) as Error, value);
    copy.message = redact(value.message);
    if (value.stack) copy.stack = redact(value.stack);
    return copy;
  }
  if (Array.isArray(value)) {
    const out = value.map((v) => redactDeep(v, depth + 1));
    return out.some((v, i) => v !== value[i]) ? out : value;
  }
  if (Object.getPrototypeOf(value) !== Object.prototype) return value;
  let changed = false;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = redactDeep(v, depth + 1);
    if (out[k] !== v) changed = true;
  }
  return changed ? out : value;
}
