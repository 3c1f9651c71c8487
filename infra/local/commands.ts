/**
 * `convoy local up|down|status`: the embedded local stack as a background process.
 */
import { fork } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { action } from '../../coordinator/cli/errors.js';
import { globalsOf, intOption } from '../../coordinator/cli/globals.js';
import {
  DEFAULT_STATE_DIR,
  LOCAL_BACKENDS,
  readStackFile,
  type LocalBackend,
  type StackFile,
} from '../../shared/config.js';
import { InputError } from '../../shared/errors.js';
import { builtFile } from '../../shared/package-files.js';
import { sleep } from '../../shared/sleep.js';
import type { DaemonArgs } from './daemon.js';

function stateDirOf(cmd: Command): string {
  return path.resolve(globalsOf(cmd).stateDir ?? process.env.CONVOY_STATE_DIR ?? DEFAULT_STATE_DIR);
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function printStack(stack: StackFile): void {
  process.stdout.write(`local stack running (pid ${stack.pid}, backend ${stack.backend ?? 'embedded'})\n`);
  for (const [name, url] of Object.entries(stack.endpoints)) process.stdout.write(`  ${name.padEnd(12)} ${url}\n`);
  process.stdout.write(`  tables       ${stack.state.itemsTable}, ${stack.state.metaTable}\n`);
  process.stdout.write(`  queue        ${stack.state.queueUrl}\n  dlq          ${stack.state.dlqUrl}\n`);
  process.stdout.write(`  remotes      ${Object.keys(stack.remotes).join(', ')}\n`);
}

/**
 * Start the daemon and wait for it to report its endpoints. `extraS3`: the extra S3 endpoints;
 * undefined means "the same as last time" (remembered in the state dir, so `local down` then
 * `local up` keeps `--extra-s3 minio`), an empty list forgets them.
 */
export async function localUp(
  stateDir: string,
  opts: {
    dynamoPort?: number;
    sqsPort?: number;
    extraS3?: string[];
    inMemory?: boolean;
    serviceModules?: string[];
    /** `embedded` (dynalite + fauxqs) unless said; not remembered between `local up`s */
    backend?: LocalBackend;
  } = {},
): Promise<StackFile> {
  const backend = opts.backend ?? 'embedded';
  const existing = readStackFile(stateDir);
  if (existing && isAlive(existing.pid)) {
    const running = existing.backend ?? 'embedded';
    if (opts.backend && running !== backend) {
      throw new InputError(
        `the local stack in ${stateDir} is already running with --backend ${running}; ` +
          `stop it first: \`convoy local down\` then \`convoy local up --backend ${backend}\``,
      );
    }
    const missing = (opts.extraS3 ?? []).filter((name) => !existing.remotes[name]);
    if (missing.length) {
      throw new InputError(
        `the local stack in ${stateDir} is already running without --extra-s3 ${missing.join(' ')}; ` +
          `restart it with them: \`convoy local down\` then \`convoy local up --extra-s3 ${[...new Set([...extraS3Of(existing), ...missing])].join(' ')}\` ` +
          '(SQS messages and S3 objects are in memory and are lost; `convoy reconcile --run R` re-sends the messages)',
      );
    }
    return existing;
  }
  mkdirSync(stateDir, { recursive: true });
  // Reuse the previous ports and extra endpoints so running workers, saved queue URLs and
  // remotes named in commands keep working after a restart.
  const prev = readPrevious(stateDir);
  const args: DaemonArgs = {
    stateDir,
    backend,
    dynamoPort: opts.dynamoPort ?? prev.dynamodb ?? 0,
    sqsPort: opts.sqsPort ?? prev.sqs ?? 0,
    // radosgw's own port (the embedded backend's S3 is the SQS server's)
    s3Port: backend === 'aws-local' && prev.s3 !== prev.sqs ? (prev.s3 ?? 0) : 0,
    extraS3: opts.extraS3 ?? prev.extraS3 ?? [],
    inMemory: opts.inMemory ?? false,
    serviceModules: opts.serviceModules ?? [],
  };
  let reply = await startDaemon(args);
  // A remembered port (not one given on the command line) may have been taken since the last
  // `local up` by any process on the machine (a busy CI host hands out ports all the time): start
  // on free ports then, and say so, rather than fail on a port the operator never chose.
  const usesRememberedPort =
    (opts.dynamoPort === undefined && prev.dynamodb !== undefined) ||
    (opts.sqsPort === undefined && prev.sqs !== undefined) ||
    args.s3Port !== 0;
  if (!reply.ready && usesRememberedPort && /EADDRINUSE/.test(reply.error ?? '')) {
    process.stderr.write(
      `convoy: the previous local up's ports are in use by another process (${reply.error}); ` +
        'the local stack starts on free ports: restart workers that were running (they hold the old endpoints)\n',
    );
    args.dynamoPort = opts.dynamoPort ?? 0;
    args.sqsPort = opts.sqsPort ?? 0;
    args.s3Port = 0;
    reply = await startDaemon(args);
  }
  if (!reply.ready || !reply.stack) throw new InputError(`local stack failed to start: ${reply.error}`);
  writePrevious(stateDir, reply.stack, args.extraS3);
  return reply.stack;
}

/** Fork the daemon (detached: it outlives this command) and wait for its endpoints or its failure. */
async function startDaemon(args: DaemonArgs): Promise<{ ready: boolean; stack?: StackFile; error?: string }> {
  const logFd = openSync(path.join(args.stateDir, 'local-stack.log'), 'a');
  const daemonPath = builtFile('infra/local/daemon.js');
  const child = fork(daemonPath, [JSON.stringify(args)], { detached: true, stdio: ['ignore', logFd, logFd, 'ipc'] });
  const reply = await new Promise<{ ready: boolean; stack?: StackFile; error?: string }>((resolve) => {
    child.once('message', (m) => resolve(m as never));
    child.once('exit', (code) =>
      resolve({
        ready: false,
        error: `local stack exited with code ${code}; see ${path.join(args.stateDir, 'local-stack.log')}`,
      }),
    );
  });
  child.unref();
  child.disconnect?.();
  return reply;
}

/** The extra S3 endpoints a running stack was started with (its remotes besides "local"). */
function extraS3Of(stack: StackFile): string[] {
  return Object.keys(stack.endpoints)
    .filter((k) => k.startsWith('s3:'))
    .map((k) => k.slice(3));
}

/** What the last `local up` used (ports.json; a damaged file counts as none). */
function readPrevious(stateDir: string): { dynamodb?: number; sqs?: number; s3?: number; extraS3?: string[] } {
  const file = path.join(stateDir, 'ports.json');
  if (!existsSync(file)) return {};
  try {
    const prev = JSON.parse(readFileSync(file, 'utf8')) as {
      dynamodb?: number;
      sqs?: number;
      s3?: number;
      extraS3?: unknown;
    };
    const extraS3 =
      Array.isArray(prev.extraS3) && prev.extraS3.every((n) => typeof n === 'string')
        ? (prev.extraS3 as string[])
        : undefined;
    return { dynamodb: prev.dynamodb, sqs: prev.sqs, s3: prev.s3, extraS3 };
  } catch {
    return {};
  }
}

function writePrevious(stateDir: string, stack: StackFile, extraS3: string[]): void {
  const port = (url?: string) => (url ? Number(new URL(url).port) : undefined);
  const prev = {
    dynamodb: port(stack.endpoints.dynamodb),
    sqs: port(stack.endpoints.sqs),
    s3: port(stack.endpoints.s3),
    extraS3,
  };
  writeFileSync(path.join(stateDir, 'ports.json'), JSON.stringify(prev));
}

export async function localDown(stateDir: string): Promise<boolean> {
  const stack = readStackFile(stateDir);
  if (!stack || !isAlive(stack.pid)) return false;
  process.kill(stack.pid, 'SIGTERM');
  for (let i = 0; i < 200 && isAlive(stack.pid); i++) await sleep(50);
  if (isAlive(stack.pid)) process.kill(stack.pid, 'SIGKILL');
  return true;
}

/** `serviceModules`: the job kinds' local services (./services.ts), started by `local up`. */
export function registerLocalCommands(program: Command, serviceModules: string[] = []): Command {
  const local = program
    .command('local')
    .description('the local stack on 127.0.0.1 (dynalite + fauxqs; or --backend aws-local: DynamoDB Local + radosgw)');
  local
    .command('up')
    .description('start the local stack in the background; creates tables, queue and DLQ; prints endpoints')
    .option(
      '--dynamodb-port <port>',
      'DynamoDB port (default: the previous one while free, else any free)',
      intOption('--dynamodb-port'),
    )
    .option(
      '--sqs-port <port>',
      'SQS/S3 port (default: the previous one while free, else any free)',
      intOption('--sqs-port'),
    )
    .option(
      '--extra-s3 <name...>',
      'extra S3 endpoints, each a remote of that name (e.g. minio); remembered for the next `local up`',
    )
    .option('--no-extra-s3', 'start without the extra S3 endpoints remembered from the last `local up`')
    .option('--in-memory', 'keep DynamoDB in memory instead of on disk')
    .option(
      '--backend <name>',
      'embedded (dynalite + fauxqs, the default) or aws-local (DynamoDB Local + radosgw S3 + fauxqs SQS; needs Java and Ceph, see docs/compat.md)',
    )
    .action(
      action(
        async (
          opts: {
            dynamodbPort?: number;
            sqsPort?: number;
            extraS3?: string[] | boolean;
            inMemory?: boolean;
            backend?: string;
          },
          cmd: Command,
        ) => {
          if (opts.backend !== undefined && !(LOCAL_BACKENDS as readonly string[]).includes(opts.backend)) {
            throw new InputError(
              `--backend "${opts.backend}" is not a backend: use one of ${LOCAL_BACKENDS.join(', ')}`,
            );
          }
          // commander: a list with --extra-s3, false with --no-extra-s3, true (its default) without either
          const extraS3 = Array.isArray(opts.extraS3) ? opts.extraS3 : opts.extraS3 === false ? [] : undefined;
          for (const name of extraS3 ?? []) {
            if (!/^[A-Za-z0-9_-]+$/.test(name) || name === 'local') {
              throw new InputError(
                `--extra-s3 "${name}" is not a usable remote name: use letters, digits, _ and - (and not "local", the main endpoint), e.g. --extra-s3 minio`,
              );
            }
          }
          const stack = await localUp(stateDirOf(cmd), {
            dynamoPort: opts.dynamodbPort,
            sqsPort: opts.sqsPort,
            extraS3,
            inMemory: opts.inMemory,
            serviceModules,
            backend: opts.backend as LocalBackend | undefined,
          });
          printStack(stack);
        },
      ),
    );
  local
    .command('down')
    .description('stop the local stack (DynamoDB data stays on disk; SQS and S3 are in memory and are lost)')
    .action(
      action(async (_opts: unknown, cmd: Command) => {
        const stopped = await localDown(stateDirOf(cmd));
        process.stdout.write(stopped ? 'local stack stopped\n' : 'no local stack running\n');
      }),
    );
  local
    .command('status')
    .description('show whether the local stack is running, and its endpoints')
    .action(
      action(async (_opts: unknown, cmd: Command) => {
        const stack = readStackFile(stateDirOf(cmd));
        if (!stack || !isAlive(stack.pid)) {
          process.stdout.write('no local stack running (start it with `convoy local up`)\n');
          return 3;
        }
        printStack(stack);
      }),
    );
  return local;
}
