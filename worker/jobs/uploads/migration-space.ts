/**
 * The customer's migration space: created once per customer (conditional write in
 * ./migration-space-rows.ts), its ed25519 key encrypted at rest with AES-256-GCM (key from the
 * uploads config; the customer DID is the additional authenticated data, so a row copied to
 * another customer does not decrypt). Looked up, decrypted and provisioned (provider/add, where
 * "already provisioned" counts as done) once per process -- a cache of promises, so concurrent
 * uploads of one customer share one lookup -- not once per upload as the legacy tool did.
 * Provisioning once per process rather than trusting the row's flag alone costs one round trip
 * per customer and heals a service that lost the provision (a restarted local stack).
 * provider/add goes through the agent the caller passes: the run's, so it waits for the upload
 * service's share of the fleet's rate and a 429 cuts that rate (peer-rates.ts), as every other
 * UCAN request of the run does.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Signer } from '@ucanto/interface';
import { ed25519 } from '@ucanto/principal';
import { ConvoyError } from '../../../shared/errors.js';
import {
  createMigrationSpace,
  getMigrationSpace,
  markMigrationSpaceProvisioned,
  type MigrationSpaceStore,
} from './migration-space-rows.js';
import type { UcanAgent } from './ucan.js';

/** What provisioning needs of an agent (the run's rate-gated one: runtime.ts runtimeForRun). */
export type Provisioner = Pick<UcanAgent, 'provisionSpace'>;

export function encryptKey(plaintext: string, keyB64: string, customer: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', Buffer.from(keyB64, 'base64'), iv);
  cipher.setAAD(Buffer.from(customer));
  const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), ct]).toString('base64');
}

export function decryptKey(encrypted: string, keyB64: string, customer: string): string {
  const raw = Buffer.from(encrypted, 'base64');
  try {
    const decipher = createDecipheriv('aes-256-gcm', Buffer.from(keyB64, 'base64'), raw.subarray(0, 12));
    decipher.setAAD(Buffer.from(customer));
    decipher.setAuthTag(raw.subarray(12, 28));
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
  } catch (err) {
    throw new ConvoyError(
      'MIGRATION_SPACE_KEY_INVALID',
      `the migration space key of ${customer} does not decrypt with the configured encryptionKey`,
      { retryable: false, cause: err },
    );
  }
}

export class MigrationSpaces {
  private readonly cache = new Map<string, Promise<Signer>>();

  constructor(
    private readonly store: MigrationSpaceStore,
    private readonly encryptionKey: string,
  ) {}

  /** The customer's migration space signer (created and provisioned through `agent` on first use). */
  forCustomer(customer: string, agent: Provisioner): Promise<Signer> {
    let p = this.cache.get(customer);
    if (!p) {
      p = this.load(customer, agent);
      this.cache.set(customer, p);
      p.catch(() => this.cache.delete(customer)); // a failure is retried by the next upload
    }
    return p;
  }

  private async load(customer: string, agent: Provisioner): Promise<Signer> {
    let row = await getMigrationSpace(this.store, customer);
    if (!row) {
      const signer = await ed25519.generate();
      const made = await createMigrationSpace(this.store, {
        customer,
        spaceDid: signer.did(),
        encryptedKey: encryptKey(ed25519.format(signer), this.encryptionKey, customer),
      });
      row = made.row;
    }
    const signer = ed25519.parse(decryptKey(row.encryptedKey, this.encryptionKey, customer)) as unknown as Signer;
    if (signer.did() !== row.spaceDid)
      throw new ConvoyError(
        'MIGRATION_SPACE_KEY_INVALID',
        `migration space key of ${customer} does not match ${row.spaceDid}`,
        { retryable: false },
      );
    await agent.provisionSpace(row.spaceDid);
    if (!row.provisionedAtMs) await markMigrationSpaceProvisioned(this.store, customer);
    return signer;
  }
}
