/**
 * One emulator in its own process, so the fleet harness can kill -9 and restart it on its own:
 *   node dist/test/fleet/service-process.js dynalite <port> <dataDir>   on-disk DynamoDB
 *   node dist/test/fleet/service-process.js fauxqs <port>               SQS + S3, in memory
 *   node dist/test/fleet/service-process.js ucan                        the uploads job's UCAN peers
 * The `ucan` process answers { ready, port, uploads (the uploads config), storageNodePorts }, and
 * to a { type: 'counts' } message with what the peers received (registrations per content, so a
 * harness can check nothing was registered twice).
 * Listens on 127.0.0.1 only (the link proxies bring namespaced workers to it) and tells its
 * parent the bound port over IPC: { ready: true, port }.
 */
import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import dynalite from 'dynalite';
import { startFauxqsServer } from '../../infra/local/stack.js';
import { startUploadPeers } from '../../worker/jobs/uploads/local-peers/start-peers.js';

/** What the UCAN peers received, summed (answers a harness's { type: 'counts' }). */
export interface PeerCounts {
  /** distinct contents with an assert/index, and how many of them were registered more than once */
  indexed: number;
  indexedTwice: number;
  /** distinct (shard, space) location claims, and how many were published more than once */
  locations: number;
  locationsTwice: number;
  /** spaces the gateway authorized, and how many of them more than once (distinct delegations) */
  gatewaySpaces: number;
  gatewayTwice: number;
}

async function main(): Promise<void> {
  const [kind, portArg, dataDir] = process.argv.slice(2);
  const port = Number(portArg ?? 0);
  if (kind === 'dynalite') {
    if (dataDir) mkdirSync(dataDir, { recursive: true });
    const server = dynalite({ path: dataDir, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    process.send?.({ ready: true, port: (server.address() as AddressInfo).port });
  } else if (kind === 'fauxqs') {
    const fq = await startFauxqsServer(port);
    process.send?.({ ready: true, port: Number(new URL(fq.url).port) });
  } else if (kind === 'ucan') {
    const peers = await startUploadPeers();
    process.on('message', (m: { type?: string }) => {
      if (m?.type !== 'counts') return;
      const tally = (keys: string[]) => {
        const n = new Map<string, number>();
        for (const k of keys) n.set(k, (n.get(k) ?? 0) + 1);
        return { distinct: n.size, twice: [...n.values()].filter((v) => v > 1).length };
      };
      const index = tally(peers.indexer.received.filter((r) => r.type === 'assert/index').map((r) => r.content));
      const loc = tally(
        peers.indexer.received.filter((r) => r.type === 'assert/location').map((r) => `${r.content} ${r.space}`),
      );
      const gw = [...peers.gateway.delegations.values()];
      const counts: PeerCounts = {
        indexed: index.distinct,
        indexedTwice: index.twice,
        locations: loc.distinct,
        locationsTwice: loc.twice,
        gatewaySpaces: gw.length,
        gatewayTwice: gw.filter((d) => d.size > 1).length,
      };
      process.send?.({ type: 'counts', counts });
    });
    process.send?.({
      ready: true,
      port: Number(new URL(peers.config.peers.upload.url).port),
      uploads: peers.config,
      storageNodePorts: peers.upload.storageNodePorts,
    });
  } else {
    throw new Error(`unknown service "${kind}" (dynalite, fauxqs or ucan)`);
  }
  // Exit with the parent: never leave an emulator behind a crashed harness.
  process.on('disconnect', () => process.exit(0));
}

main().catch((err) => {
  process.send?.({ ready: false, error: String((err as Error)?.stack ?? err) });
  process.exit(1);
});
