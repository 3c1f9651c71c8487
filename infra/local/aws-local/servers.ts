/**
 * The servers of the `aws-local` backend: DynamoDB Local (AWS's own DynamoDB) and radosgw (Ceph's
 * S3). SQS stays fauxqs: no second SQS implementation installs here (docs/compat.md says what
 * was tried). Both take seconds to start, so a test run starts them once (test/helpers/
 * compat-setup.ts) and each stack attaches to them: its own tables and queues by name, its own
 * S3 identities by radosgw tenant.
 */
import { startDynamoDBLocal } from './dynamodb-local.js';
import { createRadosgwUser, startRadosgw, type S3User } from './radosgw.js';

/** Where running aws-local servers are (what a test run's global setup hands to each file). */
export interface AwsLocalServers {
  dynamodb: string;
  s3: string;
  /** radosgw's ceph.conf, to create S3 identities */
  cephConf: string;
}

export interface StartedAwsLocal extends AwsLocalServers {
  close(): Promise<void>;
}

export async function startAwsLocalServers(
  opts: { dynamoPath?: string; dynamoPort?: number; s3Port?: number } = {},
): Promise<StartedAwsLocal> {
  // side by side: DynamoDB Local is mostly JVM start-up, radosgw mostly waiting on its monitor
  const [ddb, rgw] = await Promise.allSettled([
    startDynamoDBLocal({ dbPath: opts.dynamoPath, port: opts.dynamoPort }),
    startRadosgw({ port: opts.s3Port }),
  ]);
  if (ddb.status === 'rejected' || rgw.status === 'rejected') {
    if (ddb.status === 'fulfilled') await ddb.value.close();
    if (rgw.status === 'fulfilled') await rgw.value.close();
    throw ddb.status === 'rejected' ? ddb.reason : (rgw as PromiseRejectedResult).reason;
  }
  return {
    dynamodb: ddb.value.url,
    s3: rgw.value.url,
    cephConf: rgw.value.confPath,
    close: async () => {
      await Promise.allSettled([ddb.value.close(), rgw.value.close()]);
    },
  };
}

/** A fresh S3 identity (its own bucket namespace) on running aws-local servers. */
export function newS3User(servers: AwsLocalServers, name: string): Promise<S3User> {
  return createRadosgwUser(servers.cephConf, name);
}
