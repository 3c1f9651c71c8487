/**
 * Structured logs (pino) to stderr, so stdout stays for command output (reports, JSON).
 * Secrets never reach a log line: the redact list names every field that could hold one, and
 * credentials inside URLs in any string (an endpoint in an SDK error) are masked by `redact`.
 *
 * Two formats: pino's JSON lines for machines (the default when stderr is not a terminal, or
 * with CONVOY_LOG_FORMAT=json / --log-format json) and one readable line per entry for a person
 * at a terminal (`12:01:02 WARN message key=value`, or CONVOY_LOG_FORMAT=pretty). The readable
 * form is a small destination of ours rather than pino-pretty: it is one line per entry, needs no
 * transport worker thread and no extra dependency, and pino still produces the JSON it formats.
 */
import { pino, type DestinationStream, type Logger } from 'pino';
import { redact, redactDeep } from './redact.js';

export type { Logger };

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export const LOG_FORMATS = ['json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export const REDACT_PATHS = [
  'secretAccessKey',
  '*.secretAccessKey',
  '*.*.secretAccessKey',
  'sessionToken',
  '*.sessionToken',
  'credentials',
  '*.credentials',
  'privateKey',
  '*.privateKey',
  'agentKey',
  '*.agentKey',
  'token',
  '*.token',
  'authorization',
  '*.authorization',
];

/** The format in effect: an explicit choice (flag or env), else readable only on a terminal. */
export function resolveLogFormat(
  explicit = process.env.CONVOY_LOG_FORMAT,
  stderrIsTty = Boolean(process.stderr.isTTY),
): LogFormat {
  if (explicit === 'json' || explicit === 'pretty') return explicit;
  return stderrIsTty ? 'pretty' : 'json';
}

export function createLogger(
  level = process.env.CONVOY_LOG_LEVEL ?? 'info',
  bindings: Record<string, unknown> = {},
  format: LogFormat = resolveLogFormat(),
): Logger {
  return pino(
    {
      level,
      base: { ...bindings },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      hooks: {
        // the message and printf-style arguments: strings are masked before pino formats them
        logMethod(args, method) {
          method.apply(this, args.map((a) => redactDeep(a)) as Parameters<typeof method>);
        },
      },
    },
    format === 'pretty' ? prettyDestination() : pino.destination({ fd: 2, sync: false }),
  );
}

/** A destination that turns each JSON line pino writes into `HH:MM:SS LEVEL msg key=value`. */
export function prettyDestination(out: { write(s: string): unknown } = process.stderr): DestinationStream {
  return { write: (line: string) => void out.write(formatPrettyLine(line) + '\n') };
}

const OMIT = new Set(['level', 'time', 'msg', 'pid', 'hostname']);

export function formatPrettyLine(jsonLine: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(jsonLine) as Record<string, unknown>;
  } catch {
    return redact(jsonLine.trimEnd());
  }
  const t = new Date(typeof entry.time === 'number' ? entry.time : Date.now());
  const hms = [t.getHours(), t.getMinutes(), t.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
  const level = (pino.levels.labels[entry.level as number] ?? String(entry.level)).toUpperCase();
  const fields = Object.entries(entry)
    .filter(([k]) => !OMIT.has(k))
    .map(([k, v]) => `${k}=${prettyValue(k, v)}`);
  return [hms, level.padEnd(5), String(entry.msg ?? ''), ...fields].join(' ').trimEnd();
}

function prettyValue(key: string, v: unknown): string {
  // a serialized error: its message is what a person reads; the stack only with CONVOY_DEBUG
  if (key === 'err' && v && typeof v === 'object' && 'message' in v)
    return JSON.stringify((v as { message: unknown }).message);
  if (typeof v === 'string') return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  return JSON.stringify(v);
}

/** A logger that drops everything (tests that do not care about logs). */
export const silentLogger: Logger = pino({ level: 'silent' });
