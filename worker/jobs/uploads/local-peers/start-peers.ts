/**
 * The uploads job's local UCAN peers, started together: the real upload service
 * (@storacha/upload-api), an indexing service and a gateway (small @ucanto/servers), all on
 * 127.0.0.1. Also mints what an operator would be given in production: an agent key, the
 * operator account's attested login delegation (so the agent can provision migration spaces),
 * and the indexer's `assert/*` delegation; returns the uploads config that points at all of it.
 *
 * `convoy local up` starts them (infra/local/daemon.ts) and writes the config to
 * <state-dir>/uploads.json (0600), keeping the agent and encryption keys of an earlier file so
 * seeded delegations and migration-space rows stay valid; tests start them in-process.
 */
import * as Server from '@ucanto/server';
import { Absentee, ed25519 } from '@ucanto/principal';
import * as Assert from '@storacha/capabilities/assert';
import * as UCAN from '@storacha/capabilities/ucan';
import { randomBytes } from 'node:crypto';
import { parse as parseDID } from '@ipld/dag-ucan/did';
import { connect } from '@ucanto/client';
import { Client as IndexerClient } from '@storacha/indexing-service-client';
import * as CAR from '@ucanto/transport/car';
import * as HTTP from '@ucanto/transport/http';
import type { UploadsConfigInput } from '../config.js';
import { installNativeEd25519 } from '../native-ed25519.js';
import { encodeProof } from '../ucan.js';
import { startGateway, type GatewayPeer } from './gateway.js';
import { startIndexingService, type IndexingServicePeer } from './indexing-service.js';
import { startUploadService, type UploadServicePeer } from './upload-service.js';

export interface UploadPeers {
  upload: UploadServicePeer;
  indexer: IndexingServicePeer;
  gateway: GatewayPeer;
  /** the uploads config for these peers (contains keys: write it 0600, never log it) */
  config: UploadsConfigInput & { agentKey: string; encryptionKey: string };
  agentDid: string;
  close(): Promise<void>;
}

export interface UploadPeersOptions {
  /** ed25519 key ("Mg...") of the migration agent; generated when absent */
  agentKey?: string;
  encryptionKey?: string;
  operatorAccount?: `did:mailto:${string}`;
  carpark?: { remote: string; bucket: string };
  tables?: Partial<NonNullable<UploadsConfigInput['source']['tables']>>;
  registration?: 'assert/index' | 'space/index/add';
}

export async function startUploadPeers(opts: UploadPeersOptions = {}): Promise<UploadPeers> {
  const started: Array<{ close(): Promise<void> }> = [];
  // the peers (and the upload-api's storage nodes) sign and verify with native Ed25519: same bytes, a fraction of the CPU
  await installNativeEd25519();
  try {
    const upload = await startUploadService();
    started.push(upload);
    // the service key as a plain ed25519 signer (through its archive: the upload-api nests its own @ucanto/principal)
    const archive = (
      upload.signer as unknown as { toArchive(): { keys: Record<`did:key:${string}`, Uint8Array> } }
    ).toArchive();
    const serviceKeyDid = Object.keys(archive.keys)[0] as `did:key:${string}`;
    const serviceKey = ed25519.from({ id: serviceKeyDid, keys: archive.keys } as never);
    const serviceSigner = { signer: serviceKey, toDIDKey: () => serviceKeyDid };
    const indexer = await startIndexingService({ trusted: { [upload.did]: serviceSigner.toDIDKey() } });
    started.push(indexer);
    // The upload-api's test context comes with a mock indexing service; point it at THIS one, so
    // that what the upload service publishes (space/index/add's assert/index, its storage nodes'
    // location claims) and what it looks up (the index blob) meet the claims the agent publishes
    // and queries.
    const isvc = (
      upload.context as unknown as {
        indexingService: { invocationConfig: unknown; connection: unknown; queryClaims: unknown };
      }
    ).indexingService;
    const indexerClient = new IndexerClient({
      serviceURL: new URL(indexer.url),
      servicePrincipal: parseDID(indexer.did) as never,
    });
    isvc.invocationConfig = { issuer: upload.signer, with: upload.did, audience: parseDID(indexer.did), proofs: [] };
    isvc.connection = connect({
      id: parseDID(indexer.did) as never,
      codec: CAR.outbound,
      channel: HTTP.open({ url: new URL(indexer.url), method: 'POST' }) as never,
    });
    isvc.queryClaims = (q: Parameters<IndexerClient['queryClaims']>[0]) => indexerClient.queryClaims(q);
    const gateway = await startGateway();
    started.push(gateway);

    const agent = opts.agentKey ? ed25519.parse(opts.agentKey) : await ed25519.generate();
    const operatorAccount = opts.operatorAccount ?? 'did:mailto:convoy.local:operator';
    const account = Absentee.from({ id: operatorAccount });
    const login = await Server.delegate({
      issuer: account,
      audience: agent,
      capabilities: [{ with: 'ucan:*', can: '*' }],
      expiration: Infinity,
    } as never);
    const attest = await UCAN.attest
      .invoke({
        issuer: upload.signer as never,
        audience: agent,
        with: upload.did as `did:web:${string}`,
        nb: { proof: login.cid },
        expiration: Infinity,
      } as never)
      .delegate();
    const indexerGrant = await Assert.assert.delegate({
      issuer: indexer.signer,
      audience: agent,
      with: indexer.did as `did:key:${string}`,
      expiration: Infinity,
    } as never);

    const config: UploadPeers['config'] = {
      source: {
        tables: {
          consumer: 'consumer',
          upload: 'upload',
          allocation: 'allocation',
          store: 'store',
          delegation: 'delegation',
          ...opts.tables,
        },
        carpark: { remote: opts.carpark?.remote ?? 'local', bucket: opts.carpark?.bucket ?? 'carpark' },
      },
      peers: {
        upload: { url: upload.url, did: upload.did },
        indexer: { url: indexer.url, did: indexer.did },
        gateway: { url: gateway.url, did: gateway.did },
      },
      agentKey: ed25519.format(agent),
      serviceKey: { did: upload.did, key: ed25519.format(serviceSigner.signer) },
      operatorAccount,
      proofs: {
        account: [await encodeProof(login as never), await encodeProof(attest as never)],
        indexer: [await encodeProof(indexerGrant as never)],
      },
      encryptionKey: opts.encryptionKey ?? randomBytes(32).toString('base64'),
      registration: opts.registration ?? 'assert/index',
    };
    return {
      upload,
      indexer,
      gateway,
      config,
      agentDid: agent.did(),
      async close() {
        for (const p of started.reverse()) await p.close().catch(() => undefined);
      },
    };
  } catch (err) {
    for (const p of started.reverse()) await p.close().catch(() => undefined);
    throw err;
  }
}
