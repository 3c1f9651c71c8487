/**
 * A local gateway: a small @ucanto/server behind hono on 127.0.0.1 that takes `access/delegate`
 * invocations carrying `space/content/serve/*` delegations (the authorization to serve a space's
 * content and meter its egress). The invocation's proofs are validated (the invoker must hold
 * `access/delegate` on the space), each attached delegation must be a content-serve delegation
 * for that same space addressed to the gateway. It keeps what it receives per space, so tests can
 * check the gateway was authorized exactly once per space.
 */
import * as Server from '@ucanto/server';
import * as CAR from '@ucanto/transport/car';
import { Delegation } from '@ucanto/core';
import { ed25519 } from '@ucanto/principal';
import * as Access from '@storacha/capabilities/access';
import { listenLoopback, PeerFaults, ucantoApp } from './http.js';

export interface GatewayPeer {
  url: string;
  did: string;
  faults: PeerFaults;
  /** space DID -> number of accepted access/delegate invocations */
  authorizations: Map<string, number>;
  /**
   * space DID -> the distinct content-serve delegations received. A real gateway stores
   * delegations by CID, so the same delegation sent again (a retry after a crash) is not a
   * second authorization; a different one is.
   */
  delegations: Map<string, Set<string>>;
  close(): Promise<void>;
}

export async function startGateway(opts: { signer?: ed25519.EdSigner; port?: number } = {}): Promise<GatewayPeer> {
  const signer = opts.signer ?? (await ed25519.generate());
  const authorizations = new Map<string, number>();
  const delegations = new Map<string, Set<string>>();
  const faults = new PeerFaults();
  const server = Server.create({
    id: signer,
    codec: CAR.inbound,
    service: {
      access: {
        delegate: Server.provide(Access.delegate, ({ capability, invocation }) => {
          const space = capability.with;
          const blocks = new Map<string, Server.API.Block>();
          for (const b of invocation.export()) blocks.set(b.cid.toString(), b as Server.API.Block);
          const links = Object.values(capability.nb.delegations);
          if (!links.length) return Server.error({ name: 'InvalidDelegation', message: 'no delegations given' });
          for (const link of links) {
            let d: Server.API.Delegation;
            try {
              d = Delegation.view({ root: link as never, blocks: blocks as never });
            } catch (err) {
              return Server.error({
                name: 'InvalidDelegation',
                message: `delegation ${link} is not attached: ${(err as Error).message}`,
              });
            }
            const serves = d.capabilities.every(
              (c) =>
                c.with === space && (c.can === 'space/content/serve/*' || c.can.startsWith('space/content/serve/')),
            );
            if (!serves || d.audience.did() !== signer.did()) {
              return Server.error({
                name: 'InvalidDelegation',
                message: `delegation ${link} is not a space/content/serve delegation of ${space} to ${signer.did()}`,
              });
            }
          }
          authorizations.set(space, (authorizations.get(space) ?? 0) + 1);
          const seen = delegations.get(space) ?? new Set<string>();
          for (const link of links) seen.add(String(link));
          delegations.set(space, seen);
          return Server.ok({});
        }),
      },
    },
    validateAuthorization: () => ({ ok: {} }),
  } as never) as unknown as Parameters<typeof ucantoApp>[0];
  const running = await listenLoopback(ucantoApp(server, faults), opts.port);
  return { url: running.url, did: signer.did(), faults, authorizations, delegations, close: running.close };
}
