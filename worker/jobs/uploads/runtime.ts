/**
 * What the uploads job builds once per process and shares across items: the parsed config, the
 * UCAN agent (keys parsed once, connections kept alive) and its claims batcher, the source tables' client, the
 * migration-space cache. Keyed by the ConvoyContext so tests with several contexts stay apart.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { fromIni } from '@aws-sdk/credential-providers';
import type { ConvoyContext } from '../../../shared/context.js';
import { getRemote, type RemoteConfig } from '../../../shared/config.js';
import { httpHandler } from '../../../shared/clients.js';
import { loadUploadsConfig, type UploadsConfig } from './config.js';
import { MigrationSpaces } from './migration-space.js';
import type { SourceTables } from './source-tables.js';
import { UcanAgent } from './ucan.js';
import { ClaimsBatcher } from './claims-batcher.js';
import { adaptiveRatesFor } from '../../budget/adaptive-rates.js';
import { peerDestinations, rateGatedFetch } from './peer-rates.js';
import type { UploadsSpec } from './spec.js';

export interface UploadsRuntime {
  config: UploadsConfig;
  agent: UcanAgent;
  /** the indexer calls of this runtime's uploads in flight, batched per space (claims-batcher.ts) */
  claims: ClaimsBatcher;
  tables: SourceTables;
  carpark: { remote: RemoteConfig; bucket: string; publicUrl: string };
  spaces: MigrationSpaces;
  /** spaces whose gateway step this process has seen done: a done step never undoes, so it is not asked again */
  gatewayDone: Set<string>;
  /**
   * spaces whose gateway step an upload of this process is claiming, authorizing or waiting for,
   * settled when that upload is through: the process's other uploads of the space wait on it
   * instead of each polling the step (migrate-upload.ts `ensureGateway`)
   */
  gatewayPending: Map<string, Promise<void>>;
  /** the runtime as each run with adaptive rate control sees it (runtimeForRun) */
  perRun: Map<string, UploadsRuntime>;
}

/**
 * The base shard locations are resolved against (`new URL(key, base)`), ending in '/': without
 * it URL resolution replaces the base's last path segment, so `https://cdn/v1/carpark` would
 * yield locations under `https://cdn/v1/` (claims pointing nowhere).
 */
export function locationBase(publicUrl: string): string {
  return publicUrl.endsWith('/') ? publicUrl : `${publicUrl}/`;
}

const runtimes = new WeakMap<ConvoyContext, Promise<UploadsRuntime>>();

export function sourceTablesFor(ctx: ConvoyContext, config: UploadsConfig): SourceTables {
  const d = config.source.dynamodb;
  if (!d) return { ddb: ctx.clients.ddb, names: config.source.tables };
  const raw = new DynamoDBClient({
    region: d.region,
    endpoint: d.endpoint,
    credentials: d.profile ? fromIni({ profile: d.profile }) : undefined,
    requestHandler: httpHandler(128),
  });
  return {
    ddb: DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } }),
    names: config.source.tables,
  };
}

export function uploadsRuntime(ctx: ConvoyContext): Promise<UploadsRuntime> {
  let p = runtimes.get(ctx);
  if (!p) {
    p = (async () => {
      const config = loadUploadsConfig(ctx.config);
      const agent = await UcanAgent.create(config);
      const remote = getRemote(ctx.config, config.source.carpark.remote);
      const bucket = config.source.carpark.bucket;
      return {
        config,
        agent,
        claims: new ClaimsBatcher(agent),
        tables: sourceTablesFor(ctx, config),
        carpark: {
          remote,
          bucket,
          publicUrl: locationBase(config.source.carpark.publicUrl ?? `https://${bucket}.s3.amazonaws.com/`),
        },
        spaces: new MigrationSpaces(ctx.meta, config.encryptionKey),
        gatewayDone: new Set<string>(),
        gatewayPending: new Map(),
        perRun: new Map(),
      };
    })();
    runtimes.set(ctx, p);
    p.catch(() => runtimes.delete(ctx));
  }
  return p;
}

/**
 * The runtime one run's items use. With adaptive rate control (the default) its agent's requests
 * pass the run's fleet-wide rates per remote service (peer-rates.ts); everything else (config,
 * tables, migration-space keys, the gateway steps seen done, the sockets) is the process's.
 */
export function runtimeForRun(
  rt: UploadsRuntime,
  ctx: ConvoyContext,
  runId: string,
  spec: UploadsSpec,
): UploadsRuntime {
  if (spec.rateControl === 'fixed') return rt;
  let run = rt.perRun.get(runId);
  if (!run) {
    const rates = adaptiveRatesFor(ctx, runId);
    const destinationOf = peerDestinations(rt.config);
    const agent = rt.agent.withFetch((inner) => rateGatedFetch(inner, rates, destinationOf));
    run = { ...rt, agent, claims: new ClaimsBatcher(agent) };
    rt.perRun.set(runId, run);
  }
  return run;
}
