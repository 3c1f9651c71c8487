/**
 * One emulator in its own process, so the fleet harness can kill -9 and restart it on its own:
 *   node dist/test/fleet/service-process.js dynalite <port> <dataDir>   on-disk DynamoDB
 *   node dist/test/fleet/service-process.js fauxqs <port>               SQS + S3, in memory
 * Listens on 127.0.0.1 only (the link proxies bring namespaced workers to it) and tells its
 * parent the bound port over IPC: { ready: true, port }.
 */
import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import dynalite from 'dynalite';
import { startFauxqsServer } from '../../infra/local/stack.js';

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
  } else {
    throw new Error(`unknown service "${kind}" (dynalite or fauxqs)`);
  }
  // Exit with the parent: never leave an emulator behind a crashed harness.
  process.on('disconnect', () => process.exit(0));
}

main().catch((err) => {
  process.send?.({ ready: false, error: String((err as Error)?.stack ?? err) });
  process.exit(1);
});
