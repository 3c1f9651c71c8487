/**
 * dynamodb-copy: a DynamoDB table into another (dev -> prod), rewriting values (bucket names) on
 * the way. Everything the kind adds to convoy; its modules load on first use.
 */
import type { KindPlugin } from '../../job-kind.js';
import type { CopySpec } from './spec.js';

export const dynamodbCopyPlugin: KindPlugin<CopySpec> = {
  name: 'dynamodb-copy',
  load: async () => (await import('./job.js')).dynamodbCopyKind,
  planCommand: async () => (await import('./plan-command.js')).registerPlanCommand,
};
