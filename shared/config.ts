/**
 * Configuration: the one place that reads the environment and the config file.
 *
 * Two sources, merged once at start-up and validated with zod:
 *  - `convoy.config.json` (or `--config` / CONVOY_CONFIG): `state` (where the fleet keeps its
 *    queue and tables: AWS or any compatible endpoint) and `remotes` (named S3 endpoints, like
 *    rclone remotes).
 *  - the embedded local stack's `stack.json` in the state directory (`.convoy/` by default),
 *    written by `convoy local up`. It is used when the config file names no `state` backend, so
 *    every command works on the local stack with no configuration at all.
 * Only endpoints and names differ between AWS and the local stack; the code path is the same.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import * as z from 'zod';
import { InputError } from './errors.js';
import { LOG_FORMATS, LOG_LEVELS, type LogFormat } from './log.js';

/**
 * How long a worker acts on a run row it has read before reading it again: a pause, resume,
 * cancel or tune reaches every worker within this time (one GetItem per run per worker per
 * period). Here, with the settings every layer reads, so the worker's options and the CLI's
 * messages need not load the state layer to know it.
 */
export const RUN_STATE_TTL_MS = 10_000;

export const DEFAULT_STATE_DIR = '.convoy';
export const DEFAULT_CONFIG_FILE = 'convoy.config.json';
export const STACK_FILE = 'stack.json';

// Not strict: the AWS SDK decorates credential objects it is given (e.g. `$source`).
const credentialsSchema = z.object({
  accessKeyId: z.string().min(1),
  secretAccessKey: z.string().min(1),
  sessionToken: z.string().optional(),
});

const urlSchema = z.string().url();

export const remoteSchema = z
  .object({
    /** S3 endpoint URL; omit for AWS S3 itself. */
    endpoint: urlSchema.optional(),
    /** @defaultValue 'us-east-1' */
    region: z.string().min(1).default('us-east-1'),
    /** Static credentials; omit to use `profile` or the default credential chain. */
    accessKeyId: z.string().min(1).optional(),
    secretAccessKey: z.string().min(1).optional(),
    sessionToken: z.string().optional(),
    /** A profile in ~/.aws/credentials. */
    profile: z.string().min(1).optional(),
    /** Path-style addressing; on by default for custom endpoints (MinIO and emulators need it). */
    forcePathStyle: z.boolean().optional(),
    /** DynamoDB endpoint URL of this account, for table jobs (`remote:table`); omit for AWS itself. */
    dynamodbEndpoint: urlSchema.optional(),
  })
  .strict()
  .refine((r) => (r.accessKeyId === undefined) === (r.secretAccessKey === undefined), {
    message: 'give both accessKeyId and secretAccessKey, or neither',
  });

export const stateSchema = z
  .object({
    /** @defaultValue 'us-east-1' */
    region: z.string().min(1).default('us-east-1'),
    profile: z.string().min(1).optional(),
    credentials: credentialsSchema.optional(),
    endpoints: z.object({ dynamodb: urlSchema.optional(), sqs: urlSchema.optional() }).strict().default({}),
    /** @defaultValue 'convoy-items' */
    itemsTable: z.string().min(3).default('convoy-items'),
    /** @defaultValue 'convoy-meta' */
    metaTable: z.string().min(3).default('convoy-meta'),
    /** @defaultValue 'convoy-work' */
    queueName: z.string().min(1).default('convoy-work'),
    /** @defaultValue 'convoy-work-dlq' */
    dlqName: z.string().min(1).default('convoy-work-dlq'),
    /** Exact queue URLs (the local stack needs the URL the emulator returned); looked up by name when absent. */
    queueUrl: urlSchema.optional(),
    dlqUrl: urlSchema.optional(),
  })
  .strict();

export const configFileSchema = z
  .object({
    state: stateSchema.optional(),
    remotes: z
      .record(z.string().regex(/^[A-Za-z0-9_-]+$/, 'remote names use letters, digits, _ and -'), remoteSchema)
      .default({}),
    /** `convoy serve`: the bearer token its write endpoints require (or env CONVOY_API_TOKEN). */
    api: z
      .object({ token: z.string().min(16, 'use a token of at least 16 characters').optional() })
      .strict()
      .optional(),
  })
  .strict();

/**
 * The local stack's implementations: `embedded` (dynalite + fauxqs, in-process) or `aws-local`
 * (DynamoDB Local, AWS's own, and Ceph's radosgw for S3; fauxqs for SQS): see docs/compat.md.
 */
export const LOCAL_BACKENDS = ['embedded', 'aws-local'] as const;
export type LocalBackend = (typeof LOCAL_BACKENDS)[number];

export const stackFileSchema = z.object({
  pid: z.number().int(),
  /** absent in files written before there was a choice: embedded */
  backend: z.enum(LOCAL_BACKENDS).optional(),
  startedAtMs: z.number(),
  state: stateSchema,
  remotes: z.record(z.string(), remoteSchema),
  endpoints: z.record(z.string(), z.string()),
});

export type RemoteConfig = z.infer<typeof remoteSchema> & { name: string };
export type StateConfig = z.infer<typeof stateSchema>;
export type StackFile = z.infer<typeof stackFileSchema>;

export interface ConvoyConfig {
  stateDir: string;
  configPath: string | undefined;
  state: StateConfig;
  /** true when the state backend is the embedded local stack */
  localStack: boolean;
  remotes: Record<string, RemoteConfig>;
  logLevel: string;
  /** log line format; unset: readable on a terminal, JSON otherwise (shared/log.ts) */
  logFormat?: LogFormat;
  /** bearer token for `convoy serve` write endpoints (config `api.token` or env CONVOY_API_TOKEN); never logged */
  apiToken?: string;
  /** pid of a local stack whose stack.json was found but which is no longer running */
  staleStackPid?: number;
}

export interface LoadConfigOptions {
  configPath?: string;
  stateDir?: string;
  /** Tests pass the stack description directly instead of a stack.json. */
  stack?: StackFile;
  /** Extra remotes layered over the file's (tests, the demo). */
  remotes?: Record<string, z.input<typeof remoteSchema>>;
  env?: NodeJS.ProcessEnv;
}

/** Format zod issues as "at remotes.minio.endpoint: Invalid url" lines. */
export function formatZodIssues(error: z.ZodError): string {
  return error.issues
    .map((i) => `  at ${i.path.length ? i.path.join('.') : '(top level)'}: ${issueMessage(i)}`)
    .join('\n');
}

/**
 * zod 4 reports a bad record key as "Invalid key in record" and keeps the key schema's own message
 * (e.g. "remote names use letters, digits, _ and -") in nested `issues`: show those, they say how to fix it.
 */
function issueMessage(issue: z.core.$ZodIssue): string {
  const nested = (issue as { issues?: z.core.$ZodIssue[] }).issues;
  if (issue.code === 'invalid_key' && nested?.length)
    return `${issue.message}: ${nested.map((n) => n.message).join('; ')}`;
  return issue.message;
}

function readJsonFile(file: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new InputError(`cannot read ${what} ${file}: ${(err as Error).message}`, { cause: err });
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new InputError(`${what} ${file} is not valid JSON (${(err as Error).message}); fix the file or remove it`, {
      cause: err,
    });
  }
}

export function readStackFile(stateDir: string): StackFile | undefined {
  const file = path.join(stateDir, STACK_FILE);
  if (!existsSync(file)) return undefined;
  const parsed = stackFileSchema.safeParse(readJsonFile(file, 'local stack file'));
  if (!parsed.success) {
    throw new InputError(
      `local stack file ${file} is damaged:\n${formatZodIssues(parsed.error)}\nrun \`convoy local down\` and \`convoy local up\` again`,
    );
  }
  return parsed.data;
}

export function loadConfig(opts: LoadConfigOptions = {}): ConvoyConfig {
  const env = opts.env ?? process.env;
  const stateDir = path.resolve(opts.stateDir ?? env.CONVOY_STATE_DIR ?? DEFAULT_STATE_DIR);
  const explicitPath = opts.configPath ?? env.CONVOY_CONFIG;
  const configPath = explicitPath ?? (existsSync(DEFAULT_CONFIG_FILE) ? DEFAULT_CONFIG_FILE : undefined);
  if (explicitPath && !existsSync(explicitPath)) {
    throw new InputError(`config file ${explicitPath} does not exist; create it or drop --config / CONVOY_CONFIG`);
  }
  let file: z.infer<typeof configFileSchema> = { remotes: {} };
  if (configPath) {
    const parsed = configFileSchema.safeParse(readJsonFile(configPath, 'config file'));
    if (!parsed.success) {
      throw new InputError(`config file ${configPath} is invalid:\n${formatZodIssues(parsed.error)}`);
    }
    file = parsed.data;
  }

  let stack = opts.stack ?? (file.state ? undefined : readStackFile(stateDir));
  // A stack.json left behind by a daemon that was killed (kill -9, reboot) names dead endpoints:
  // treat it as no stack, so commands say "start it" instead of failing with ECONNREFUSED.
  let staleStackPid: number | undefined;
  if (stack && !opts.stack && !processAlive(stack.pid)) {
    staleStackPid = stack.pid;
    stack = undefined;
  }
  let state: StateConfig;
  let localStack = false;
  if (file.state) {
    state = file.state;
  } else if (stack) {
    state = stack.state;
    localStack = true;
  } else {
    // No backend configured and no local stack: a command that needs state fails on use with
    // this message (commands like `local up` and `index inspect` never touch state).
    state = stateSchema.parse({});
    localStack = true;
  }

  const remotes: Record<string, RemoteConfig> = {};
  const add = (src: Record<string, z.input<typeof remoteSchema>> | undefined, origin: string) => {
    for (const [name, raw] of Object.entries(src ?? {})) {
      const parsed = remoteSchema.safeParse(raw);
      if (!parsed.success)
        throw new InputError(`remote "${name}" in ${origin} is invalid:\n${formatZodIssues(parsed.error)}`);
      remotes[name] = { ...parsed.data, name };
    }
  };
  add(stack?.remotes, 'the local stack');
  add(file.remotes, configPath ?? 'config');
  add(opts.remotes, 'options');

  const apiToken = file.api?.token ?? (env.CONVOY_API_TOKEN || undefined);
  const logLevel = checkLogLevel(env.CONVOY_LOG_LEVEL ?? 'info', 'CONVOY_LOG_LEVEL');
  const logFormat = env.CONVOY_LOG_FORMAT ? checkLogFormat(env.CONVOY_LOG_FORMAT, 'CONVOY_LOG_FORMAT') : undefined;
  return { stateDir, configPath, state, localStack, remotes, logLevel, logFormat, apiToken, staleStackPid };
}

/** A log level pino knows, or bad input naming where it came from (pino's own error is a stack trace). */
export function checkLogLevel(level: string, what: string): string {
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new InputError(`${what} "${level}" is not a log level; use one of ${LOG_LEVELS.join(', ')}`);
  }
  return level;
}

export function checkLogFormat(format: string, what: string): LogFormat {
  if (!(LOG_FORMATS as readonly string[]).includes(format)) {
    throw new InputError(
      `${what} "${format}" is not a log format; use json (machines) or pretty (one readable line per entry)`,
    );
  }
  return format as LogFormat;
}

/** Whether a local process exists (signal 0 checks without signalling; EPERM means it exists). */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Fails with a helpful message when a command needs the local stack and none is running. */
export function assertStateReachable(config: ConvoyConfig): void {
  if (config.localStack && !config.state.endpoints.dynamodb) {
    throw new InputError(
      `no state backend: no local stack is running in ${config.stateDir}` +
        (config.staleStackPid !== undefined
          ? ` (its stack.json is left from pid ${config.staleStackPid}, which has exited)`
          : '') +
        ' and ' +
        (config.configPath
          ? `${config.configPath} has no "state" section.\n`
          : `there is no config file (${DEFAULT_CONFIG_FILE}).\n`) +
        'Start one with `convoy local up`, or configure AWS in the config file ("state": {"region": ..., "itemsTable": ...}).',
    );
  }
}

export function getRemote(config: ConvoyConfig, name: string): RemoteConfig {
  const remote = config.remotes[name];
  if (!remote) {
    const known = Object.keys(config.remotes);
    throw new InputError(
      `unknown remote "${name}"; known remotes: ${known.length ? known.join(', ') : '(none)'}. ` +
        // a local stack's extra S3 endpoints come from `local up --extra-s3`, not from the config file
        (config.localStack && !config.configPath
          ? `To have the local stack serve it, restart it with it: \`convoy local down\` then \`convoy local up --extra-s3 ${[...known.filter((k) => k !== 'local'), name].join(' ')}\` (remembered for later \`local up\`); or add it under "remotes" in ${DEFAULT_CONFIG_FILE}.`
          : `Add it under "remotes" in ${config.configPath ?? DEFAULT_CONFIG_FILE}.`),
    );
  }
  return remote;
}

/** Parse "remote:bucket[/prefix]" (rclone's syntax). */
export function parseRemotePath(spec: string, what: string): { remote: string; bucket: string; prefix: string } {
  const m = /^([A-Za-z0-9_-]+):([^/]+)(?:\/(.*))?$/.exec(spec);
  if (!m) {
    throw new InputError(
      `${what} "${spec}" is not of the form remote:bucket[/prefix] (for example minio:rideshare-bronze)`,
    );
  }
  return { remote: m[1]!, bucket: m[2]!, prefix: m[3] ?? '' };
}
