/**
 * `convoy local up|down|status`: the embedded local stack as a background process.
 */
import { fork } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { action } from '../../coordinator/cli/errors.js';
import { globalsOf, intOption } from '../../coordinator/cli/globals.js';
import { DEFAULT_STATE_DIR, readStackFile, type StackFile } from '../../shared/config.js';
import { InputError } from '../../shared/errors.js';
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
  process.stdout.write(`local stack running (pid ${stack.pid})\n`);
  for (const [name, url] of Object.entries(stack.endpoints)) process.stdout.write(`  ${name.padEnd(12)} ${url}\n`);
  process.stdout.write(`  tables       ${stack.state.itemsTable}, ${stack.state.metaTable}\n`);
  process.stdout.write(`  queue        ${stack.state.queueUrl}\n  dlq          ${stack.state.dlqUrl}\n`);
  process.stdout.write(`  remotes      ${Object.keys(stack.remotes).join(', ')}\n`);
}

/** Start the daemon and wait for it to report its endpoints. */
export async function localUp(stateDir: string, opts: { dynamoPort?: number; sqsPort?: number; extraS3?: string[]; inMemory?: boolean } = {}): Promise<StackFile> {
  const existing = readStackFile(stateDir);
  if (existing && isAlive(existing.pid)) return existing;
  mkdirSync(stateDir, { recursive: true });
  // Reuse the previous ports so running workers and saved queue URLs keep working after a restart.
  const prevPorts = readPreviousPorts(stateDir);
  const args: DaemonArgs = {
    stateDir,
    dynamoPort: opts.dynamoPort ?? prevPorts.dynamodb ?? 0,
    sqsPort: opts.sqsPort ?? prevPorts.sqs ?? 0,
    extraS3: opts.extraS3 ?? [],
    inMemory: opts.inMemory ?? false,
  };
  const logFd = openSync(path.join(stateDir, 'local-stack.log'), 'a');
  const daemonPath = fileURLToPath(new URL('./daemon.js', import.meta.url));
  const child = fork(daemonPath, [JSON.stringify(args)], { detached: true, stdio: ['ignore', logFd, logFd, 'ipc'] });
  const reply = await new Promise<{ ready: boolean; stack?: StackFile; error?: string }>((resolve) => {
    child.once('message', (m) => resolve(m as never));
    child.once('exit', (code) => resolve({ ready: false, error: `local stack exited with code ${code}; see ${path.join(stateDir, 'local-stack.log')}` }));
  });
  child.unref();
  child.disconnect?.();
  if (!reply.ready || !reply.stack) throw new InputError(`local stack failed to start: ${reply.error}`);
  writePorts(stateDir, reply.stack);
  return reply.stack;
}

function readPreviousPorts(stateDir: string): { dynamodb?: number; sqs?: number } {
  const file = path.join(stateDir, 'ports.json');
  if (!existsSync(file)) return {};
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return {};
  }
}

function writePorts(stateDir: string, stack: StackFile): void {
  const port = (url?: string) => (url ? Number(new URL(url).port) : undefined);
  const ports = { dynamodb: port(stack.endpoints.dynamodb), sqs: port(stack.endpoints.sqs) };
  writeFileSync(path.join(stateDir, 'ports.json'), JSON.stringify(ports));
}

export async function localDown(stateDir: string): Promise<boolean> {
  const stack = readStackFile(stateDir);
  if (!stack || !isAlive(stack.pid)) return false;
  process.kill(stack.pid, 'SIGTERM');
  for (let i = 0; i < 200 && isAlive(stack.pid); i++) await new Promise((r) => setTimeout(r, 50));
  if (isAlive(stack.pid)) process.kill(stack.pid, 'SIGKILL');
  return true;
}

export function registerLocalCommands(program: Command): Command {
  const local = program.command('local').description('the embedded local stack (dynalite + fauxqs on 127.0.0.1)');
  local
    .command('up')
    .description('start the local stack in the background; creates tables, queue and DLQ; prints endpoints')
    .option('--dynamodb-port <port>', 'DynamoDB port (default: previous or any free)', intOption('--dynamodb-port'))
    .option('--sqs-port <port>', 'SQS/S3 port (default: previous or any free)', intOption('--sqs-port'))
    .option('--extra-s3 <name...>', 'extra S3 endpoints, each a remote of that name (e.g. minio)')
    .option('--in-memory', 'keep DynamoDB in memory instead of on disk')
    .action(
      action(async (opts: { dynamodbPort?: number; sqsPort?: number; extraS3?: string[]; inMemory?: boolean }, cmd: Command) => {
        const stack = await localUp(stateDirOf(cmd), { dynamoPort: opts.dynamodbPort, sqsPort: opts.sqsPort, extraS3: opts.extraS3, inMemory: opts.inMemory });
        printStack(stack);
      }),
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
