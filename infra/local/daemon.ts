/**
 * The `convoy local up` daemon: a detached process that runs the local stack until SIGTERM.
 * dynalite keeps its data on disk under <state-dir>/dynamodb; fauxqs (SQS, S3) is in memory,
 * which is why `convoy reconcile` exists. Tells its parent the endpoints over IPC, then writes
 * <state-dir>/stack.json for every later command.
 *
 * It also starts the uploads job's local UCAN peers (upload service, indexing service, gateway)
 * and writes their uploads config to <state-dir>/uploads.json, mode 0600 (it holds keys). The
 * agent and encryption keys of an existing uploads.json are kept across restarts, so delegation
 * rows seeded for the agent and migration-space keys encrypted at rest stay valid. The peers
 * themselves keep what they receive in memory, like fauxqs.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { STACK_FILE, type StackFile } from '../../shared/config.js';
import { UPLOADS_CONFIG_FILE } from '../../worker/jobs/uploads/config.js';
import { startLocalStack } from './stack.js';
import { startUploadPeers, type UploadPeers } from './ucan-peers/index.js';

export interface DaemonArgs {
  stateDir: string;
  dynamoPort: number;
  sqsPort: number;
  extraS3: string[];
  inMemory: boolean;
  /** start the uploads job's UCAN peers. @defaultValue true */
  uploadPeers?: boolean;
}

/** The keys worth keeping from a previous uploads.json (a damaged file is replaced). */
function previousUploadKeys(file: string): { agentKey?: string; encryptionKey?: string } {
  if (!existsSync(file)) return {};
  try {
    const old = JSON.parse(readFileSync(file, 'utf8')) as { agentKey?: unknown; encryptionKey?: unknown };
    return {
      agentKey: typeof old.agentKey === 'string' ? old.agentKey : undefined,
      encryptionKey: typeof old.encryptionKey === 'string' ? old.encryptionKey : undefined,
    };
  } catch {
    return {};
  }
}

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2] ?? '{}') as DaemonArgs;
  const stack = await startLocalStack({
    dynamoPath: args.inMemory ? undefined : path.join(args.stateDir, 'dynamodb'),
    dynamoPort: args.dynamoPort,
    sqsPort: args.sqsPort,
    extraS3: args.extraS3,
  });
  let peers: UploadPeers | undefined;
  const uploadsPath = path.join(args.stateDir, UPLOADS_CONFIG_FILE);
  if (args.uploadPeers !== false) {
    try {
      peers = await startUploadPeers(previousUploadKeys(uploadsPath));
    } catch (err) {
      await stack.close();
      throw err;
    }
    // mode 0600 applies on creation only: remove first so a file made with other modes is replaced
    rmSync(uploadsPath, { force: true });
    writeFileSync(uploadsPath, JSON.stringify(peers.config, null, 2), { mode: 0o600 });
  }
  // the upload-api's storage nodes too: clients PUT blobs to the URLs they hand out
  const storageNodes = Object.fromEntries((peers?.upload.storageNodePorts ?? []).map((port, i) => [`ucan:storage-${i + 1}`, `http://127.0.0.1:${port}/`]));
  const endpoints = { ...stack.endpoints, ...(peers ? { 'ucan:upload': peers.config.peers.upload.url, 'ucan:indexer': peers.config.peers.indexer.url, 'ucan:gateway': peers.config.peers.gateway.url, ...storageNodes } : {}) };
  const file: StackFile = { pid: process.pid, startedAtMs: Date.now(), state: stack.state, remotes: stack.remotes, endpoints };
  const stackPath = path.join(args.stateDir, STACK_FILE);
  writeFileSync(stackPath, JSON.stringify(file, null, 2));
  process.send?.({ ready: true, stack: file });
  process.disconnect?.();
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    rmSync(stackPath, { force: true });
    await peers?.close().catch(() => undefined);
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
