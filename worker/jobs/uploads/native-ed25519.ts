/**
 * Ed25519 through Node's own crypto (OpenSSL) for ucanto principals.
 *
 * @ucanto/principal signs and verifies with @noble/ed25519, pure JavaScript: ~1.2 ms per
 * signature and ~3 ms per verification on this project's machines, against ~0.08 ms and
 * ~0.25 ms natively, with byte-identical signatures (Ed25519 is deterministic). An upload's
 * migration signs about five invocations (one of them inside @storacha/upload-client, with a key
 * the service hands out) and a peer verifies about as many: on the pure-JS path signatures were a
 * large share of the CPU per upload, in the worker and in the local peers alike.
 *
 * `installNativeEd25519()` swaps `sign` and `verify` on the prototypes of @ucanto/principal's
 * Ed25519 signer and verifier classes (reached through an instance: they are not exported), so
 * every ucanto principal of this process, including those made inside @storacha packages, signs
 * natively. Signatures are identical, so nothing observable changes but the CPU time; a test
 * checks both paths give the same bytes. A second copy of @ucanto/principal (none today) would
 * keep the pure-JS path: correct, only slower.
 */
import {
  createPrivateKey,
  createPublicKey,
  sign as cryptoSign,
  verify as cryptoVerify,
  type KeyObject,
} from 'node:crypto';
import * as Signature from '@ipld/dag-ucan/signature';
import { ed25519 } from '@ucanto/principal';

/**
 * Keys are imported as JWK: OpenSSL 3 decodes a JWK about ten times faster than the same key as
 * PKCS#8/SPKI DER (~0.04 ms vs ~0.4 ms), and the upload client signs with a fresh key per blob.
 */
export function privateKeyFromSeed(seed: Uint8Array, publicKey?: Uint8Array): KeyObject {
  return createPrivateKey({
    key: {
      kty: 'OKP',
      crv: 'Ed25519',
      d: Buffer.from(seed).toString('base64url'),
      x: publicKey ? Buffer.from(publicKey).toString('base64url') : '',
    },
    format: 'jwk',
  });
}

export function publicKeyFromRaw(raw: Uint8Array): KeyObject {
  return createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(raw).toString('base64url') },
    format: 'jwk',
  });
}

interface EdSignerThis {
  secret: Uint8Array;
  signatureCode: number;
  verifier?: { publicKey?: Uint8Array };
}
interface EdVerifierThis {
  publicKey: Uint8Array;
  signatureCode: number;
}

const privateKeys = new WeakMap<object, KeyObject>();
/** public keys by their bytes: ucanto parses a fresh verifier for every DID it meets */
const publicKeys = new Map<string, KeyObject | null>();

async function nativeSign(this: EdSignerThis, payload: Uint8Array) {
  let key = privateKeys.get(this);
  if (!key) {
    key = privateKeyFromSeed(this.secret, this.verifier?.publicKey);
    privateKeys.set(this, key);
  }
  return Signature.create(this.signatureCode as never, new Uint8Array(cryptoSign(null, payload, key)));
}

function nativeVerify(
  this: EdVerifierThis,
  payload: Uint8Array,
  signature: { code: number; raw: Uint8Array },
): boolean {
  if (signature.code !== this.signatureCode) return false;
  const id = Buffer.from(this.publicKey).toString('latin1');
  let key = publicKeys.get(id);
  if (key === undefined) {
    try {
      key = publicKeyFromRaw(this.publicKey);
    } catch {
      key = null; // not a valid Ed25519 public key: nothing verifies against it
    }
    if (publicKeys.size > 10_000) publicKeys.clear();
    publicKeys.set(id, key);
  }
  if (!key) return false;
  try {
    return cryptoVerify(null, payload, key, signature.raw);
  } catch {
    return false;
  }
}

let installed: Promise<void> | undefined;

/** Make ucanto's Ed25519 principals sign and verify natively in this process (idempotent). */
export function installNativeEd25519(): Promise<void> {
  installed ??= (async () => {
    const signer = await ed25519.generate();
    const signerProto = Object.getPrototypeOf(signer) as Record<string, unknown>;
    const verifierProto = Object.getPrototypeOf(signer.verifier) as Record<string, unknown>;
    // only replace what has the shape we rely on; otherwise keep ucanto's own code
    if (typeof signerProto.sign === 'function' && (signer as unknown as EdSignerThis).secret?.length === 32)
      signerProto.sign = nativeSign;
    if (
      typeof verifierProto.verify === 'function' &&
      (signer.verifier as unknown as EdVerifierThis).publicKey?.length === 32
    )
      verifierProto.verify = nativeVerify;
  })();
  return installed;
}
