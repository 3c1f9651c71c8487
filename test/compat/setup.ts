/**
 * Global setup of `npm run test:compat`: starts the aws-local servers (DynamoDB Local, radosgw)
 * once for the whole run and hands their addresses to every test file (`inject('awsLocal')` in
 * test/helpers/stack.ts). Starting them per file would cost ~12 s and ~400 MiB each.
 */
import type { TestProject } from 'vitest/node';
import { startAwsLocalServers, type AwsLocalServers } from '../../infra/local/aws-local/servers.js';

declare module 'vitest' {
  export interface ProvidedContext {
    awsLocal: AwsLocalServers | undefined;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = Date.now();
  const servers = await startAwsLocalServers();
  process.stdout.write(
    `aws-local: DynamoDB Local ${servers.dynamodb}, radosgw ${servers.s3} (started in ${Date.now() - started} ms)\n`,
  );
  project.provide('awsLocal', { dynamodb: servers.dynamodb, s3: servers.s3, cephConf: servers.cephConf });
  return () => servers.close();
}
