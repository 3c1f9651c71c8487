/**
 * The real @storacha/upload-api, in-process (its test context: in-memory stores, storage nodes
 * on loopback HTTP), served with hono on 127.0.0.1:
 *   POST /               UCAN invocations (space/blob/add, ucan/conclude, space/index/add,
 *                        provider/add, ...), exactly as the production service handles them
 *   GET  /receipt/:task  receipts of tasks the service ran (the client polls blob/accept here)
 * Its DID is did:web:test.up.storacha.network; `signer` is exposed so the local stack can
 * attest operator logins and issue location claims as the service would.
 */
import type { Hono } from 'hono';
import * as UploadApi from '@storacha/upload-api';
import { cleanupContext, createContext } from '@storacha/upload-api/test/context';
import { Message } from '@ucanto/core';
import * as CAR from '@ucanto/transport/car';
import type { Signer } from '@ucanto/interface';
import { CID } from 'multiformats/cid';
import { listenLoopback, loopbackHttp, PeerFaults, ucantoApp } from './http.js';

export interface UploadServicePeer {
  url: string;
  did: string;
  /** the service's signing key (did:web with an ed25519 key) */
  signer: Signer;
  faults: PeerFaults;
  /** loopback ports of the upload-api's storage nodes (clients PUT blobs to http://127.0.0.1:<port>/...) */
  storageNodePorts: number[];
  /** the upload-api's in-memory stores, for tests that look inside */
  context: Awaited<ReturnType<typeof createContext>>;
  close(): Promise<void>;
}

export async function startUploadService(opts: { port?: number } = {}): Promise<UploadServicePeer> {
  const storageNodePorts: number[] = [];
  const context = await createContext({ http: loopbackHttp(storageNodePorts) } as never);
  const server = UploadApi.createServer(context as never) as unknown as Parameters<typeof ucantoApp>[0];
  const faults = new PeerFaults();
  const app: Hono = ucantoApp(server, faults);
  app.get('/receipt/:task', async (c) => {
    let task: CID;
    try {
      task = CID.parse(c.req.param('task'));
    } catch {
      return c.text('not a CID', 400);
    }
    const found = await context.agentStore.receipts.get(task as never);
    if (found.error) return c.text('receipt not found', 404);
    const message = await Message.build({ receipts: [found.ok] as never });
    const req = CAR.request.encode(message as never);
    return new Response(Buffer.from(req.body), { headers: req.headers as Record<string, string> });
  });
  const running = await listenLoopback(app, opts.port);
  return {
    url: running.url,
    did: context.id.did(),
    signer: context.id as unknown as Signer,
    faults,
    storageNodePorts,
    context,
    async close() {
      await running.close();
      await cleanupContext(context).catch(() => undefined);
    },
  };
}
