/**
 * pg-to-s3: an event store from PostgreSQL to S3, with `convoy replay` and consistency checks.
 * Everything the kind adds to convoy; its modules (and the PostgreSQL driver) load on first use.
 */
import type { KindPlugin } from '../../job-kind.js';
import type { PgToS3Spec } from './spec.js';

export const pgToS3Plugin: KindPlugin<PgToS3Spec> = {
  name: 'pg-to-s3',
  load: async () => (await import('./job.js')).pgToS3Kind,
  planCommand: async () => (await import('./plan-command.js')).registerPlanCommand,
  commands: { paths: [['replay']], register: async () => (await import('./cli.js')).registerReplayCommand },
};
