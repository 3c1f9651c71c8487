/**
 * Structured logs (pino) to stderr, so stdout stays for command output (reports, JSON).
 * Secrets never reach a log line: the redact list names every field that could hold one.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

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

export function createLogger(level = process.env.CONVOY_LOG_LEVEL ?? 'info', bindings: Record<string, unknown> = {}): Logger {
  return pino(
    { level, base: { ...bindings }, redact: { paths: REDACT_PATHS, censor: '[redacted]' } },
    pino.destination({ fd: 2, sync: false }),
  );
}

/** A logger that drops everything (tests that do not care about logs). */
export const silentLogger: Logger = pino({ level: 'silent' });
