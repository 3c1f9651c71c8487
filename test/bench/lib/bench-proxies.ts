/**
 * The counting proxies of one bench:s3 case: one in front of each S3 endpoint (`local`, `minio`),
 * the same for every tool, with the case's added delay; and, for convoy's own traffic, one in
 * front of the local stack's SQS and one in front of its DynamoDB (never delayed: the delay of
 * case (d) stands for the distance to the S3 endpoints).
 *
 * Every tool is pointed at the proxies: rclone and aws-cli through the peer configs written here,
 * convoy through a state directory of its own whose stack.json names the proxies (the same
 * emulator daemon, so its pid is alive; the way bench:uploads points a worker at its delaying
 * proxies). The local stack's "local" S3 endpoint and its SQS share a port; each gets its own
 * proxy, so S3 and SQS requests are counted apart.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { STACK_FILE, type StackFile } from '../../../shared/config.js';
import { CountingProxy, type ProxyStats } from './counting-proxy.js';
import { writePeerConfigs, type PeerConfigFiles, type PeerRemote } from './peers.js';
import type { BenchStack } from './stack.js';

export interface BenchProxies {
  /** S3 proxies by remote name */
  s3: Record<string, CountingProxy>;
  sqs: CountingProxy;
  dynamodb: CountingProxy;
  /** convoy's state directory: the stack's stack.json with the proxies' endpoints */
  stateDir: string;
  /** S3 endpoint per remote, as the tools see it (the proxy's URL) */
  endpoints: Record<string, string>;
  peerFiles: PeerConfigFiles;
  oneWayDelayMs: number;
  reset(): void;
  stats(): ProxyStats[];
  close(): Promise<void>;
}

/** A copy of the stack description with every endpoint replaced by its proxy's. Pure. */
export function proxiedStack(stack: StackFile, s3: Record<string, string>, sqs: string, dynamodb: string): StackFile {
  const copy = JSON.parse(JSON.stringify(stack)) as StackFile;
  copy.state.endpoints = { ...copy.state.endpoints, sqs, dynamodb };
  for (const [name, r] of Object.entries(copy.remotes)) {
    if (s3[name]) r.endpoint = s3[name];
    if (r.dynamodbEndpoint) r.dynamodbEndpoint = dynamodb;
  }
  return copy;
}

/**
 * Start the proxies for `remotes` of `stack` in `dir` (a fresh directory per case): their state
 * dir for convoy and peer configs for rclone and aws-cli.
 */
export async function startBenchProxies(
  stack: BenchStack,
  dir: string,
  remotes: string[],
  oneWayDelayMs: number,
): Promise<BenchProxies> {
  const started: CountingProxy[] = [];
  const start = async (p: CountingProxy) => {
    started.push(p);
    return p.start();
  };
  try {
    const s3: Record<string, CountingProxy> = {};
    for (const name of remotes) {
      const endpoint = stack.stack.remotes[name]?.endpoint;
      if (!endpoint) throw new Error(`the local stack has no endpoint for remote ${name}`);
      s3[name] = await start(
        new CountingProxy({ name: `s3:${name}`, service: 's3', upstream: endpoint, oneWayDelayMs }),
      );
    }
    const { sqs: sqsUrl, dynamodb: ddbUrl } = stack.stack.state.endpoints;
    if (!sqsUrl || !ddbUrl) throw new Error('the local stack names no SQS or DynamoDB endpoint');
    const sqs = await start(new CountingProxy({ name: 'sqs', service: 'sqs', upstream: sqsUrl }));
    const dynamodb = await start(new CountingProxy({ name: 'dynamodb', service: 'dynamodb', upstream: ddbUrl }));
    const endpoints = Object.fromEntries(Object.entries(s3).map(([n, p]) => [n, p.url]));

    const stateDir = path.join(dir, 'state');
    mkdirSync(stateDir, { recursive: true });
    writeFileSync(
      path.join(stateDir, STACK_FILE),
      JSON.stringify(proxiedStack(stack.stack, endpoints, sqs.url, dynamodb.url), null, 2),
    );
    const peerRemotes: PeerRemote[] = remotes.map((name) => {
      const r = stack.stack.remotes[name]!;
      return {
        name,
        endpoint: endpoints[name]!,
        region: r.region,
        accessKeyId: r.accessKeyId!,
        secretAccessKey: r.secretAccessKey!,
      };
    });
    const peerFiles = writePeerConfigs(dir, peerRemotes);
    const all = [...Object.values(s3), sqs, dynamodb];
    return {
      s3,
      sqs,
      dynamodb,
      stateDir,
      endpoints,
      peerFiles,
      oneWayDelayMs,
      reset: () => all.forEach((p) => p.reset()),
      stats: () => all.map((p) => p.stats()),
      close: async () => {
        await Promise.all(all.map((p) => p.close()));
      },
    };
  } catch (err) {
    await Promise.all(started.map((p) => p.close().catch(() => undefined)));
    throw err;
  }
}
