/**
 * The `convoy local up` daemon: a detached process that runs the local stack until SIGTERM.
 * dynalite keeps its data on disk under <state-dir>/dynamodb (DynamoDB Local, with --backend
 * aws-local, under <state-dir>/dynamodb-local); fauxqs (SQS, S3) and radosgw are in memory,
 * which is why `convoy reconcile` exists. Tells its parent the endpoints over IPC, then writes
 * <state-dir>/stack.json for every later command.
 *
 * It also starts the job kinds' local services (./services.ts: the uploads kind's UCAN peers),
 * importing the modules the program's kinds declared; their endpoints join stack.json.
 */
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { STACK_FILE, type LocalBackend, type StackFile } from '../../shared/config.js';
import type { LocalServices, StartLocalServices } from './services.js';
import { startLocalStack } from './stack.js';

export interface DaemonArgs {
  stateDir: string;
  /** embedded when absent */
  backend?: LocalBackend;
  /** aws-local: radosgw's port (0 = any free) */
  s3Port?: number;
  dynamoPort: number;
  sqsPort: number;
  extraS3: string[];
  inMemory: boolean;
  /** modules (file URLs) exporting `startLocalServices`, one per kind that declares local services */
  serviceModules: string[];
}

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2] ?? '{}') as DaemonArgs;
  const stack = await startLocalStack({
    backend: args.backend,
    // DynamoDB Local keeps SQLite files, dynalite LevelDB ones: each its own folder
    dynamoPath: args.inMemory
      ? undefined
      : path.join(args.stateDir, args.backend === 'aws-local' ? 'dynamodb-local' : 'dynamodb'),
    s3Port: args.s3Port,
    dynamoPort: args.dynamoPort,
    sqsPort: args.sqsPort,
    extraS3: args.extraS3,
  });
  const services: LocalServices[] = [];
  try {
    for (const module of args.serviceModules) {
      const { startLocalServices } = (await import(module)) as { startLocalServices: StartLocalServices };
      services.push(await startLocalServices({ stateDir: args.stateDir }));
    }
  } catch (err) {
    await Promise.allSettled(services.map((svc) => svc.close()));
    await stack.close();
    throw err;
  }
  const endpoints = Object.assign({ ...stack.endpoints }, ...services.map((svc) => svc.endpoints)) as Record<
    string,
    string
  >;
  const file: StackFile = {
    pid: process.pid,
    backend: stack.backend,
    startedAtMs: Date.now(),
    state: stack.state,
    remotes: stack.remotes,
    endpoints,
  };
  const stackPath = path.join(args.stateDir, STACK_FILE);
  writeFileSync(stackPath, JSON.stringify(file, null, 2));
  process.send?.({ ready: true, stack: file });
  process.disconnect?.();
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    rmSync(stackPath, { force: true });
    await Promise.allSettled(services.map((svc) => svc.close()));
    await stack.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
}

main().catch((err) => {
  process.send?.({ ready: false, error: String((err as Error)?.message ?? err) });
  process.exit(1);
});
