/**
 * S3 clients for the remotes a run names, built once per process and reused (keep-alive sockets).
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { sameS3Account, sharedS3Client } from '../../../shared/s3-clients.js';
import { getRemote, type ConvoyConfig } from '../../../shared/config.js';
import type { CopyTarget } from './copier.js';
import type { BucketPair } from './spec.js';

import { S3ObjectClient } from './object-client.js';

const objectClients = new Map<string, S3ObjectClient>();

const cacheKey = (config: ConvoyConfig, remoteName: string) =>
  `${config.configPath ?? ''}\u0000${remoteName}\u0000${JSON.stringify(config.remotes[remoteName] ?? {})}`;

/** The lean GET/PUT/COPY client for a remote (object-client.ts), one per process. */
export function objectsFor(config: ConvoyConfig, remoteName: string): S3ObjectClient {
  const key = cacheKey(config, remoteName);
  let client = objectClients.get(key);
  if (!client) {
    client = new S3ObjectClient(getRemote(config, remoteName), { maxSockets: 512 });
    objectClients.set(key, client);
  }
  return client;
}

export function s3For(config: ConvoyConfig, remoteName: string): S3Client {
  return sharedS3Client(getRemote(config, remoteName), { maxSockets: 512 });
}

export function copyTargetFor(config: ConvoyConfig, pair: BucketPair): CopyTarget {
  return {
    src: s3For(config, pair.from.remote),
    dst: s3For(config, pair.to.remote),
    srcObjects: objectsFor(config, pair.from.remote),
    dstObjects: objectsFor(config, pair.to.remote),
    srcBucket: pair.from.bucket,
    dstBucket: pair.to.bucket,
    serverSide: sameS3Account(getRemote(config, pair.from.remote), getRemote(config, pair.to.remote)),
  };
}
