/**
 * fauxqs 2.x as an S3 endpoint of its own: the one local implementation that keeps S3's additional
 * checksums (CRC32, SHA1, SHA256 on PutObject and UploadPart, returned by GET and HEAD with
 * `x-amz-checksum-mode: ENABLED`; it stores them as given and does not check bodies against them).
 * The embedded stack stays on fauxqs 1.9.2, which runs on every Node in the matrix; fauxqs 2 needs
 * Node >= 22.5 (it imports node:sqlite), so it runs here under the Node 24 that `.ci/node.sh 24`
 * caches under the checkout, in a process of its own, whichever Node runs the suite. The package is
 * the devDependency `fauxqs-2` (npm alias of fauxqs@2.4.1).
 */
import { execFileSync, spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

// run by the Node 24 child: start a server on a free loopback port, print its address, stay up
const SERVER = `
const { startFauxqs } = await import(${JSON.stringify(path.join(ROOT, 'node_modules/fauxqs-2/dist/app.js'))});
const server = await startFauxqs({ port: 0, host: '127.0.0.1', logger: false });
process.stdout.write(JSON.stringify({ address: server.address }) + '\\n');
process.on('SIGTERM', () => server.stop().then(() => process.exit(0)));
`;

export interface Fauxqs2 {
  url: string;
  close(): Promise<void>;
}

export async function startFauxqs2(): Promise<Fauxqs2> {
  const node = execFileSync('bash', [path.join(ROOT, '.ci/node.sh'), '24'], { encoding: 'utf8' }).trim();
  const child = spawn(node, ['--input-type=module', '-e', SERVER], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', (line) => resolve(JSON.parse(line).address));
    child.once('exit', (code) => reject(new Error(`fauxqs 2 exited (${code}) before it listened: ${stderr}`)));
  });
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
