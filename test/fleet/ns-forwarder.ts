/**
 * Runs inside a worker's network namespace and makes `127.0.0.1:<port>` there reach a service on
 * the harness's loopback, through that host's link proxy:
 *   ip netns exec <ns> node dist/test/fleet/ns-forwarder.js <port>=<host>:<port> ...
 *
 * Why: the upload-api's storage nodes hand out blob PUT URLs on http://127.0.0.1:<port>/ (their
 * address in the harness), and a URL inside a signed receipt cannot be rewritten. In a namespace,
 * 127.0.0.1 is the host's own loopback, so without this the worker's PUT would find nothing.
 * It tells its parent it is listening with one line on stdout: "ready".
 */
import net from 'node:net';

function forward(listenPort: number, toHost: string, toPort: number): Promise<void> {
  const server = net.createServer((inbound) => {
    const outbound = net.connect(toPort, toHost);
    inbound.pipe(outbound).pipe(inbound);
    const close = () => {
      inbound.destroy();
      outbound.destroy();
    };
    inbound.on('error', close);
    outbound.on('error', close);
    inbound.on('close', close);
    outbound.on('close', close);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(listenPort, '127.0.0.1', () => resolve());
  });
}

const mappings = process.argv.slice(2).map((arg) => {
  const m = /^(\d+)=([\d.]+):(\d+)$/.exec(arg);
  if (!m) throw new Error(`bad mapping "${arg}": expected <port>=<host>:<port>`);
  return { listenPort: Number(m[1]), toHost: m[2]!, toPort: Number(m[3]) };
});
await Promise.all(mappings.map((m) => forward(m.listenPort, m.toHost, m.toPort)));
process.stdout.write('ready\n');
// stay up until the harness kills us (or the namespace goes away)
