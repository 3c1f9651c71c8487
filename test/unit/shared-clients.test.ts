/**
 * sharedS3Client: one client (and so one pool of keep-alive sockets) per remote and process, told
 * apart by what the remote says, not by its name: the same name pointing at another endpoint (a
 * second stack in one process, a config read again) must not get the first endpoint's client,
 * which pg-to-s3's own cache by name alone used to hand out.
 */
import { describe, expect, it } from 'vitest';
import { sharedS3Client } from '../../shared/s3-clients.js';
import type { RemoteConfig } from '../../shared/config.js';

const remote = (endpoint: string): RemoteConfig =>
  ({ name: 'local', region: 'us-east-1', endpoint, accessKeyId: 'a', secretAccessKey: 'b' }) as RemoteConfig;

describe('sharedS3Client', () => {
  it('returns the same client for the same remote and sockets, another for another endpoint of the same name', async () => {
    const a = sharedS3Client(remote('http://127.0.0.1:1001'));
    expect(sharedS3Client(remote('http://127.0.0.1:1001'))).toBe(a);
    const b = sharedS3Client(remote('http://127.0.0.1:1002'));
    expect(b).not.toBe(a);
    expect((await b.config.endpoint!()).port).toBe(1002);
    expect(sharedS3Client(remote('http://127.0.0.1:1001'), { maxSockets: 32 })).not.toBe(a);
  });
});
