/**
 * The built-in job kinds: the registry the composition root (coordinator/cli/main.ts) builds the
 * CLI with. Adding a kind: its folder under worker/jobs/<kind>/ with a plugin.ts, and one line here.
 */
import type { KindPlugin } from '../job-kind.js';
import { dynamodbCopyPlugin } from './dynamodb-copy/plugin.js';
import { pgToDynamoPlugin } from './pg-to-dynamodb/plugin.js';
import { pgToS3Plugin } from './pg-to-s3/plugin.js';
import { s3SyncPlugin } from './s3-sync/plugin.js';
import { uploadsPlugin } from './uploads/plugin.js';

export const builtInKinds: readonly KindPlugin[] = [
  s3SyncPlugin,
  uploadsPlugin,
  dynamodbCopyPlugin,
  pgToDynamoPlugin,
  pgToS3Plugin,
];
