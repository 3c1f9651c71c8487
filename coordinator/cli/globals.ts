/**
 * Global CLI options (--config, --state-dir, --log-level, --log-format) and the context built
 * from them, plus the option parsers every command shares (integers, sizes, run ids). Parsers
 * throw commander's InvalidArgumentError, so commander names the option and exits 2.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { checkLogFormat, checkLogLevel, loadConfig, type ConvoyConfig } from '../../shared/config.js';
import { withKinds, type EngineContext } from '../../worker/job-kind.js';
import { kindsOf } from './kinds.js';
import { InputError } from '../../shared/errors.js';
import { createLogger, resolveLogFormat } from '../../shared/log.js';
import { parseMaxFailed } from '../../shared/failure-tolerance.js';
import { DEFAULT_RETRY_POLICY, type RetryPolicyInput } from '../../shared/retry-policy.js';
import { sizeInBytes } from '../../shared/size.js';

export interface GlobalOptions {
  config?: string;
  stateDir?: string;
  logLevel?: string;
  logFormat?: string;
  run?: unknown;
}

export function globalsOf(cmd: Command): GlobalOptions {
  return cmd.optsWithGlobals() as GlobalOptions;
}

/** `--log-format json|pretty` (env CONVOY_LOG_FORMAT); default: pretty on a terminal, else JSON. */
export function logFormatOption(): Option {
  return new Option(
    '--log-format <format>',
    'log lines: json or pretty (default: pretty when stderr is a terminal; env CONVOY_LOG_FORMAT)',
  );
}

/**
 * The validated configuration of a command. Everything a command was given is checked here,
 * before any client is built or anything written: the config file, the log level and format,
 * and the run id(s) of its --run option, whichever command declared it and however.
 */
export function configFrom(cmd: Command): ConvoyConfig {
  const g = globalsOf(cmd);
  checkRunIds(cmd.opts().run);
  const logLevel = g.logLevel === undefined ? undefined : checkLogLevel(g.logLevel, '--log-level');
  const logFormat = g.logFormat === undefined ? undefined : checkLogFormat(g.logFormat, '--log-format');
  const config = loadConfig({ configPath: g.config, stateDir: g.stateDir });
  if (logLevel) config.logLevel = logLevel;
  if (logFormat) {
    config.logFormat = logFormat;
    // loggers made without the config (the worker's) read the format from the environment
    process.env.CONVOY_LOG_FORMAT = logFormat;
  }
  return config;
}

/**
 * The retry policy options of `convoy plan` (declared on `plan` itself, so every kind's plan
 * command has them, before or after the kind's name). Stored on the run: every worker applies it.
 */
export function retryPolicyOptions(): Option[] {
  const d = DEFAULT_RETRY_POLICY;
  return [
    new Option(
      '--max-attempts <n>',
      `attempts before a retryable failure is final (the item is failed, its message goes to the DLQ; default ${d.maxAttempts})`,
    ).argParser(intOption('--max-attempts')),
    new Option(
      '--backoff-base-ms <ms>',
      `retry delay scale, full jitter, doubling per attempt (default ${d.backoffBaseMs})`,
    ).argParser(intOption('--backoff-base-ms')),
    new Option('--backoff-cap-ms <ms>', `longest retry delay (default ${d.backoffCapMs})`).argParser(
      intOption('--backoff-cap-ms'),
    ),
    new Option(
      '--max-failed <n|p%>',
      'failed items the run tolerates (a count, or a percentage of its items); past it the run pauses itself (default: no limit)',
    ).argParser(maxFailedOption),
  ];
}

/** The retry policy a plan command was given; undefined when none of its options was. */
export function retryPolicyFrom(cmd: Command): RetryPolicyInput | undefined {
  const o = cmd.optsWithGlobals() as RetryPolicyInput;
  if (
    o.maxAttempts === undefined &&
    o.backoffBaseMs === undefined &&
    o.backoffCapMs === undefined &&
    o.maxFailed === undefined
  )
    return undefined;
  return {
    maxAttempts: o.maxAttempts,
    backoffBaseMs: o.backoffBaseMs,
    backoffCapMs: o.backoffCapMs,
    maxFailed: o.maxFailed,
  };
}

/** The parser of `--max-failed N|P%` (plan): a bad value exits 2 naming the flag. */
function maxFailedOption(value: string) {
  const r = parseMaxFailed(value);
  if ('problem' in r) throw new InvalidArgumentError(`${r.problem}.`);
  return r.value;
}

/** Run `fn` with a context; the context's clients are closed afterwards. */
export async function withContext<T>(cmd: Command, fn: (ctx: EngineContext) => Promise<T>): Promise<T> {
  const config = configFrom(cmd);
  // imported here, not at the top: the clients cost start-up CPU that commands without a
  // context (help, the worker's supervisor, local) should not pay
  const { createContext } = await import('../../shared/context.js');
  const ctx = withKinds(
    await createContext(config, { log: createLogger(config.logLevel, {}, config.logFormat ?? resolveLogFormat()) }),
    kindsOf(cmd),
  );
  try {
    return await fn(ctx);
  } finally {
    ctx.close();
  }
}

/** Parse an integer option; a bad value is reported by commander with the option's name. */
export function intOption(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isInteger(n))
      throw new InvalidArgumentError(`${name} must be an integer, got "${value}".`);
    return n;
  };
}

/** Parse sizes such as 8MiB, 512KiB, 1GB, 1048576. */
export function parseSize(value: string): number {
  const bytes = sizeInBytes(value);
  if (bytes === undefined)
    throw new InvalidArgumentError(`"${value}" is not a size (examples: 8MiB, 512KiB, 1048576).`);
  return bytes;
}

/**
 * Run ids become DynamoDB keys, SQS message fields, S3 keys (pg-to-s3 manifests) and file names
 * (verify reports), so they are limited to what is safe in all of them.
 */
export const RUN_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

/** Why `id` is not a usable run id, or undefined when it is. */
export function runIdProblem(id: string): string | undefined {
  if (id === '.' || id === '..' || !RUN_ID_PATTERN.test(id)) {
    const shown = id.length > 40 ? `${id.slice(0, 40)}... (${id.length} characters)` : `"${id}"`;
    return `run id ${shown} is not valid: use 1 to 128 characters of letters, digits, '.', '_', ':' and '-' (not "." or "..")`;
  }
  return undefined;
}

/** The parser for every `--run <id>` option. */
export function runIdOption(value: string): string {
  const problem = runIdProblem(value);
  if (problem) throw new InvalidArgumentError(`${problem}.`);
  return value;
}

/** The parser for `--run <id...>` options (commander passes the list so far). */
export function runIdsOption(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), runIdOption(value)];
}

/** The same check for a --run option declared without the parser (one or many ids). */
function checkRunIds(run: unknown): void {
  for (const id of Array.isArray(run) ? run : run === undefined ? [] : [run]) {
    const problem = typeof id === 'string' ? runIdProblem(id) : 'run id must be a string';
    if (problem) throw new InputError(`--run: ${problem}`);
  }
}

/** Parse an integer option that must be 1 or more (a count where 0 or less would mean nothing). */
export function positiveIntOption(name: string) {
  const int = intOption(name);
  return (value: string): number => {
    const n = int(value);
    if (n < 1) throw new InvalidArgumentError(`${name} must be 1 or more, got "${value}".`);
    return n;
  };
}

/** The rate control modes of the kinds that have one (`--rate-control`); adaptive is the default. */
export const RATE_CONTROL_MODES = ['adaptive', 'fixed'] as const;
export type RateControl = (typeof RATE_CONTROL_MODES)[number];

/**
 * The parser of a kind's `--rate-control <mode>` (an empty or unknown mode is refused, never
 * taken for the default); `fixedMeans` says what "fixed" leaves in that kind.
 */
export function rateControlOption(fixedMeans: string) {
  return (value: string): RateControl => {
    if ((RATE_CONTROL_MODES as readonly string[]).includes(value)) return value as RateControl;
    throw new InvalidArgumentError(
      `--rate-control: "${value}" is not a mode; use "adaptive" (back off per destination when it answers 429/503, then ramp up; the default) or "fixed" (${fixedMeans}).`,
    );
  };
}

/** Parse a positive number option (rates such as --max-wcu). */
export function positiveNumberOption(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0)
      throw new InvalidArgumentError(`${name} must be a positive number, got "${value}"`);
    return n;
  };
}
