/**
 * The uploads kind's services on the embedded local stack (`convoy local up`): its UCAN peers
 * (upload service, indexing service, gateway; ./local-peers/), and their uploads config written
 * to <state-dir>/uploads.json, mode 0600 (it holds keys). The agent and encryption keys of an
 * existing uploads.json are kept across restarts, so delegation rows seeded for the agent and
 * migration-space keys encrypted at rest stay valid. The peers keep what they receive in memory.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { StartLocalServices } from '../../../infra/local/services.js';
import { UPLOADS_CONFIG_FILE } from './config.js';
import { startUploadPeers } from './local-peers/start-peers.js';

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

export const startLocalServices: StartLocalServices = async ({ stateDir }) => {
  const uploadsPath = path.join(stateDir, UPLOADS_CONFIG_FILE);
  const peers = await startUploadPeers(previousUploadKeys(uploadsPath));
  // mode 0600 applies on creation only: remove first so a file made with other modes is replaced
  rmSync(uploadsPath, { force: true });
  writeFileSync(uploadsPath, JSON.stringify(peers.config, null, 2), { mode: 0o600 });
  // the upload-api's storage nodes too: clients PUT blobs to the URLs they hand out
  const storageNodes = Object.fromEntries(
    peers.upload.storageNodePorts.map((port, i) => [`ucan:storage-${i + 1}`, `http://127.0.0.1:${port}/`]),
  );
  return {
    endpoints: {
      'ucan:upload': peers.config.peers.upload.url,
      'ucan:indexer': peers.config.peers.indexer.url,
      'ucan:gateway': peers.config.peers.gateway.url,
      ...storageNodes,
    },
    close: () => peers.close(),
  };
};
