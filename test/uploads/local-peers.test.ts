/**
 * The stand-in upload service's storage nodes (the real @storacha/upload-api test context behind
 * local-peers/http.ts `loopbackHttp`) keep connections alive, as a production storage node does:
 * their own code destroys the socket after every answer, which cost every upload a TCP connection.
 */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUploadService, type UploadServicePeer } from '../../worker/jobs/uploads/local-peers/upload-service.js';

let peer: UploadServicePeer;

beforeAll(async () => {
  peer = await startUploadService();
});
afterAll(async () => {
  await peer?.close();
});

function get(port: number, agent: http.Agent): Promise<{ status: number; reused: boolean; connection?: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/blob/not-a-digest', agent }, (res) => {
      res.resume();
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, reused: req.reusedSocket, connection: res.headers.connection }),
      );
    });
    req.on('error', reject);
  });
}

describe('stand-in storage nodes', () => {
  it("answer on a kept-alive connection: the second request reuses the first one's socket", async () => {
    expect(peer.storageNodePorts.length).toBeGreaterThan(0);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (const port of peer.storageNodePorts) {
        const first = await get(port, agent);
        const second = await get(port, agent);
        // an answer arrived (the node's own error for a path that names no blob), not a reset
        expect(first.status).toBeGreaterThanOrEqual(400);
        expect(second.status).toBe(first.status);
        expect(first.connection).not.toBe('close');
        expect(second.reused).toBe(true);
      }
    } finally {
      agent.destroy();
    }
  });
});
