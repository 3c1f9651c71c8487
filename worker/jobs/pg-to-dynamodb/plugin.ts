/**
 * pg-to-dynamodb: PostgreSQL/TimescaleDB rows into a DynamoDB single-table design. Everything
 * the kind adds to convoy; its modules (and the PostgreSQL driver) load on first use.
 */
import type { KindPlugin } from '../../job-kind.js';
import type { PgToDynamoSpec } from './spec.js';

export const pgToDynamoPlugin: KindPlugin<PgToDynamoSpec> = {
  name: 'pg-to-dynamodb',
  load: async () => (await import('./job.js')).pgToDynamoKind,
  planCommand: async () => (await import('./plan-command.js')).registerPlanCommand,
};
