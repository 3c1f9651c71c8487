/**
 * The uploads job's environment: where the legacy tables and the carpark bucket are, the UCAN
 * peers (URLs and DIDs), and the secrets (agent key, service key, proofs, the key that encrypts
 * migration-space keys at rest). Like the legacy tool's environments, every name is configurable.
 *
 * Read once per process from the file named by CONVOY_UPLOADS_CONFIG, else
 * `<state-dir>/uploads.json` (written by the local stack). Secrets may instead come from the
 * environment (CONVOY_UPLOADS_AGENT_KEY, CONVOY_UPLOADS_SERVICE_KEY,
 * CONVOY_UPLOADS_ENCRYPTION_KEY) so they need not sit in a file. Nothing logs or prints this
 * config, so secrets never reach the logs.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import * as z from 'zod';
import { formatZodIssues, type ConvoyConfig } from '../../../shared/config.js';
import { InputError } from '../../../shared/errors.js';

const peer = z.object({ url: z.string().url(), did: z.string().startsWith('did:') }).strict();

export const uploadsConfigSchema = z
  .object({
    source: z
      .object({
        /** DynamoDB holding the legacy tables; omit to use the state backend's endpoint and credentials */
        dynamodb: z
          .object({
            region: z.string().default('us-east-1'),
            endpoint: z.string().url().optional(),
            profile: z.string().optional(),
          })
          .strict()
          .optional(),
        tables: z
          .object({
            consumer: z.string().default('consumer'),
            upload: z.string().default('upload'),
            allocation: z.string().default('allocation'),
            store: z.string().default('store'),
            /** space -> delegation granting the agent access/delegate and space/content/serve/* */
            delegation: z.string().default('delegation'),
          })
          .strict()
          .default({
            consumer: 'consumer',
            upload: 'upload',
            allocation: 'allocation',
            store: 'store',
            delegation: 'delegation',
          }),
        /** the carpark bucket: a remote (see `remotes` in the convoy config) and a bucket */
        carpark: z
          .object({
            remote: z.string().default('local'),
            bucket: z.string().default('carpark'),
            /** base URL of shard locations in claims re-published from scratch (--repair); default https://<bucket>.s3.amazonaws.com/ */
            publicUrl: z.string().url().optional(),
          })
          .strict()
          .default({ remote: 'local', bucket: 'carpark' }),
      })
      .strict(),
    peers: z.object({ upload: peer, indexer: peer, gateway: peer }).strict(),
    /** ed25519 private key of the migration agent (ucanto `ed25519.format`, "Mg...") */
    agentKey: z.string().min(10).optional(),
    /** the upload service's key: issues location claims, as the legacy tool did */
    serviceKey: z.object({ did: z.string().startsWith('did:'), key: z.string().min(10).optional() }).strict(),
    /** the account migration spaces are provisioned under, and its attested login delegation to the agent */
    operatorAccount: z.string().startsWith('did:mailto:'),
    proofs: z
      .object({
        /** base64 CAR delegations: account -> agent (ucan:*) and the service's attestation of it */
        account: z.array(z.string()).min(1),
        /** base64 CAR delegation: indexer -> agent (assert/*) */
        indexer: z.array(z.string()).min(1),
      })
      .strict(),
    /** 32 bytes, base64: encrypts migration-space keys at rest (AES-256-GCM) */
    encryptionKey: z.string().optional(),
    /** how an index is registered: `assert/index` straight to the indexing service, or `space/index/add` at the upload service */
    registration: z.enum(['assert/index', 'space/index/add']).default('assert/index'),
  })
  .strict();

export type UploadsConfig = z.infer<typeof uploadsConfigSchema> & {
  agentKey: string;
  encryptionKey: string;
  serviceKey: { did: string; key: string };
};
export type UploadsConfigInput = z.input<typeof uploadsConfigSchema>;

export const UPLOADS_CONFIG_FILE = 'uploads.json';

/** configs given in-process, per convoy config (a process may hold several: tests, one per file) */
const overrides = new WeakMap<ConvoyConfig, UploadsConfig>();
const cache = new Map<string, UploadsConfig>();

/** In-process runs (tests) give the uploads config directly, for the contexts built on `config`. */
export function setUploadsConfig(config: ConvoyConfig, uploads: UploadsConfigInput | undefined): void {
  if (uploads) overrides.set(config, parseUploadsConfig(uploads, 'setUploadsConfig'));
  else overrides.delete(config);
}

export function parseUploadsConfig(raw: unknown, origin: string, env: NodeJS.ProcessEnv = process.env): UploadsConfig {
  const parsed = uploadsConfigSchema.safeParse(raw);
  if (!parsed.success) throw new InputError(`uploads config ${origin} is invalid:\n${formatZodIssues(parsed.error)}`);
  const c = parsed.data;
  const agentKey = env.CONVOY_UPLOADS_AGENT_KEY ?? c.agentKey;
  const serviceKey = env.CONVOY_UPLOADS_SERVICE_KEY ?? c.serviceKey.key;
  const encryptionKey = env.CONVOY_UPLOADS_ENCRYPTION_KEY ?? c.encryptionKey;
  const missing = [
    !agentKey && 'agentKey (or CONVOY_UPLOADS_AGENT_KEY)',
    !serviceKey && 'serviceKey.key (or CONVOY_UPLOADS_SERVICE_KEY)',
    !encryptionKey && 'encryptionKey (or CONVOY_UPLOADS_ENCRYPTION_KEY)',
  ].filter(Boolean);
  if (missing.length) throw new InputError(`uploads config ${origin} lacks ${missing.join(', ')}`);
  if (Buffer.from(encryptionKey!, 'base64').length !== 32)
    throw new InputError(
      `uploads config ${origin}: encryptionKey must be 32 bytes in base64 (openssl rand -base64 32)`,
    );
  return {
    ...c,
    agentKey: agentKey!,
    encryptionKey: encryptionKey!,
    serviceKey: { did: c.serviceKey.did, key: serviceKey! },
  };
}

export function loadUploadsConfig(config: ConvoyConfig, env: NodeJS.ProcessEnv = process.env): UploadsConfig {
  const override = overrides.get(config);
  if (override) return override;
  const file = env.CONVOY_UPLOADS_CONFIG ?? path.join(config.stateDir, UPLOADS_CONFIG_FILE);
  const hit = cache.get(file);
  if (hit) return hit;
  if (!existsSync(file)) {
    throw new InputError(
      `no uploads configuration: ${file} does not exist. Start the local stack with its UCAN peers (\`convoy local up\`), or point CONVOY_UPLOADS_CONFIG at a file describing the tables, peers and keys (see docs/uploads.md)`,
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new InputError(`uploads config ${file} is not valid JSON: ${(err as Error).message}`);
  }
  const parsed = parseUploadsConfig(raw, file, env);
  cache.set(file, parsed);
  return parsed;
}
