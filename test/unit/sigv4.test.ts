/**
 * The lean SigV4 signer (shared/sigv4.ts) must sign exactly as the SDK's signer does, or every
 * request of s3-sync's data path is refused by S3 (the local stack does not check signatures, so
 * only this comparison catches a difference).
 */
import { SignatureV4 } from '@smithy/signature-v4';
import { describe, expect, it } from 'vitest';
import { SigV4Signer, type SigV4Credentials } from '../../shared/sigv4.js';
import { Sha256 } from '../helpers/sha256.js';

const creds: SigV4Credentials = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
};

async function both(
  req: { method: string; host: string; path: string; query?: Record<string, string>; headers: Record<string, string> },
  c: SigV4Credentials = creds,
  atMs = Date.UTC(2026, 11, 2, 13, 5, 9, 123),
) {
  const sdk = new SignatureV4({
    service: 's3',
    region: 'eu-west-1',
    credentials: c,
    sha256: Sha256,
    uriEscapePath: false,
    applyChecksum: false,
  });
  const signed = await sdk.sign(
    {
      method: req.method,
      protocol: 'http:',
      hostname: req.host.split(':')[0]!,
      path: req.path,
      query: req.query ?? {},
      headers: { host: req.host, ...req.headers },
    },
    { signingDate: new Date(atMs) },
  );
  const lean = new SigV4Signer({ service: 's3', region: 'eu-west-1', credentials: c }).sign(req, c, atMs);
  return { sdk: signed.headers as Record<string, string>, lean };
}

describe('SigV4Signer', () => {
  it('signs a GET with a conditional header as the SDK does', async () => {
    const { sdk, lean } = await both({
      method: 'GET',
      host: '127.0.0.1:9000',
      path: '/bucket/a%20b/c%2Bd.txt',
      headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'if-match': '"abc"' },
    });
    expect(lean.authorization).toBe(sdk.authorization);
    expect(lean['x-amz-date']).toBe('20261202T130509Z');
  });

  it('signs a PUT with metadata, folded values and unsignable headers as the SDK does', async () => {
    const { sdk, lean } = await both({
      method: 'PUT',
      host: 'bucket.s3.eu-west-1.amazonaws.com',
      path: '/k%C3%A9y',
      headers: {
        'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
        'content-length': '16384',
        'content-type': 'text/plain;  charset=utf-8 ',
        'cache-control': 'no-cache',
        'x-amz-meta-convoy-source-etag': 'd41d8cd98f00b204e9800998ecf8427e',
        'x-amz-meta-note': '  two\tspaces  ',
        'user-agent': 'convoy',
      },
    });
    expect(lean.authorization).toBe(sdk.authorization);
    expect(lean.authorization).not.toContain('cache-control');
  });

  it('signs a listing query (sorted, RFC 3986 encoded) as the SDK does', async () => {
    const { sdk, lean } = await both({
      method: 'GET',
      host: '127.0.0.1:9000',
      path: '/bucket',
      query: {
        'list-type': '2',
        prefix: "dir/with space+plus!'()*~",
        'start-after': 'dir/é/ü',
        'max-keys': '501',
        'encoding-type': 'url',
        'continuation-token': 'abc/def==',
      },
      headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
    });
    expect(lean.authorization).toBe(sdk.authorization);
  });

  it('adds the session token of temporary credentials and signs it', async () => {
    const temp = { ...creds, sessionToken: 'FwoGZXIvYXdzEXAMPLETOKEN' };
    const { sdk, lean } = await both(
      { method: 'HEAD', host: 'h', path: '/b/k', headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } },
      temp,
    );
    expect(lean['x-amz-security-token']).toBe(temp.sessionToken);
    expect(lean.authorization).toBe(sdk.authorization);
  });

  it('derives a new signing key on a new day and for new credentials', async () => {
    const signer = new SigV4Signer({ service: 's3', region: 'eu-west-1', credentials: creds });
    const req = { method: 'GET', host: 'h', path: '/b/k', headers: {} };
    const day1 = Date.UTC(2026, 11, 2, 23, 59, 59);
    const day2 = day1 + 2_000;
    const other = { accessKeyId: 'AKIDOTHER', secretAccessKey: 'another-secret' };
    for (const [c, at] of [
      [creds, day1],
      [creds, day2],
      [other, day2],
    ] as const) {
      const sdk = (await both(req, c, at)).sdk;
      expect(signer.sign(req, c, at).authorization).toBe(sdk.authorization);
    }
  });

  it('asks a provider once, and again when its credentials are about to expire', async () => {
    let calls = 0;
    let expiration = new Date(Date.now() + 3_600_000);
    const signer = new SigV4Signer({
      service: 's3',
      region: 'eu-west-1',
      credentials: async () => {
        calls++;
        return { ...creds, expiration };
      },
    });
    expect(signer.credentialsNow()).toBeUndefined();
    await Promise.all([signer.credentials(), signer.credentials()]);
    expect(calls).toBe(1);
    expect(signer.credentialsNow()).toBeDefined();
    await signer.credentials();
    expect(calls).toBe(1);
    expiration = new Date(Date.now() + 60_000);
    await signer.credentials(); // still the first, long-lived ones
    expect(calls).toBe(1);
    expect(signer.credentialsNow(Date.now() + 3_600_000 - 60_000)).toBeUndefined();
  });
});
