/**
 * The exact IAM actions convoy's code needs, derived from the AWS SDK commands it sends.
 *
 * Pure data, no CDK: the fleet stack builds its policy from these lists, and a test
 * (test/infra/iam-actions.test.ts) greps the source for `new XxxCommand(` and fails when a
 * command appears that this file does not know, so a new SDK call cannot silently miss a
 * permission in production (and no wildcard is ever needed to "make it work").
 */

/** Where an action is allowed. */
export type Grant =
  | 'itemsTable'
  | 'itemsIndex'
  | 'metaTable'
  | 'queues'
  | 'readBuckets'
  | 'writeBuckets'
  | 'readTables'
  | 'writeTables'
  /** KMS keys of SSE-KMS objects the fleet reads or writes (s3-sync --sse aws:kms, or SSE-KMS sources) */
  | 'kmsKeys'
  /** only used against the local stack (provisioning); the CDK app creates these resources */
  | 'localOnly'
  /** run by the operator's `convoy plan` preflight with the operator's own credentials, never by workers */
  | 'operatorOnly';

export interface CommandPermission {
  /** IAM actions the command is authorized by */
  actions: string[];
  grants: Grant[];
}

/**
 * SDK command class name (without "Command") -> IAM actions and where they are granted.
 * lib-dynamodb's document commands (GetCommand, ...) authorize as their low-level counterparts.
 * Batch SQS calls authorize as the single call (SendMessageBatch -> sqs:SendMessage).
 */
export const COMMAND_PERMISSIONS: Record<string, CommandPermission> = {
  // state/item-bulk.ts, state/batch.ts
  BatchWrite: { actions: ['dynamodb:BatchWriteItem'], grants: ['itemsTable', 'writeTables'] },
  BatchWriteItem: { actions: ['dynamodb:BatchWriteItem'], grants: ['itemsTable', 'writeTables'] },
  BatchGet: { actions: ['dynamodb:BatchGetItem'], grants: ['itemsTable'] },
  BatchGetItem: { actions: ['dynamodb:BatchGetItem'], grants: ['itemsTable'] },
  // state/items.ts, state/runs.ts
  Get: { actions: ['dynamodb:GetItem'], grants: ['itemsTable', 'metaTable', 'readTables', 'writeTables'] },
  GetItem: { actions: ['dynamodb:GetItem'], grants: ['itemsTable', 'metaTable', 'readTables', 'writeTables'] },
  // state/items.ts (state machine), state/runs.ts, state/counters.ts
  Update: { actions: ['dynamodb:UpdateItem'], grants: ['itemsTable', 'metaTable'] },
  UpdateItem: { actions: ['dynamodb:UpdateItem'], grants: ['itemsTable', 'metaTable'] },
  // state/runs.ts (run row), state/workers.ts (heartbeat rows)
  Put: { actions: ['dynamodb:PutItem'], grants: ['metaTable', 'writeTables'] },
  PutItem: { actions: ['dynamodb:PutItem'], grants: ['metaTable', 'writeTables'] },
  // state/item-bulk.ts (by run, and on the byStatus index), counters, workers
  Query: {
    actions: ['dynamodb:Query'],
    grants: ['itemsTable', 'itemsIndex', 'metaTable', 'readTables', 'writeTables'],
  },
  // state/runs.ts (list runs); dynamodb-copy scans sources, and its verify counts destinations
  Scan: { actions: ['dynamodb:Scan'], grants: ['metaTable', 'readTables', 'writeTables'] },
  // state/schema.ts ensureTable: the local stack only (the CDK app creates the tables)
  CreateTable: { actions: ['dynamodb:CreateTable'], grants: ['localOnly'] },
  DescribeTable: { actions: ['dynamodb:DescribeTable'], grants: ['localOnly', 'readTables', 'writeTables'] },
  // dynamodb-copy's verify reads the destination back
  BatchGetItem_dest: { actions: ['dynamodb:BatchGetItem'], grants: ['writeTables'] },

  // shared/work-queue.ts
  SendMessageBatch: { actions: ['sqs:SendMessage'], grants: ['queues'] },
  SendMessage: { actions: ['sqs:SendMessage'], grants: ['queues'] },
  ReceiveMessage: { actions: ['sqs:ReceiveMessage'], grants: ['queues'] },
  DeleteMessageBatch: { actions: ['sqs:DeleteMessage'], grants: ['queues'] },
  DeleteMessage: { actions: ['sqs:DeleteMessage'], grants: ['queues'] },
  ChangeMessageVisibility: { actions: ['sqs:ChangeMessageVisibility'], grants: ['queues'] },
  ChangeMessageVisibilityBatch: { actions: ['sqs:ChangeMessageVisibility'], grants: ['queues'] },
  GetQueueAttributes: { actions: ['sqs:GetQueueAttributes'], grants: ['queues'] },
  GetQueueUrl: { actions: ['sqs:GetQueueUrl'], grants: ['queues'] },
  // infra/local/stack.ts provisionState: local stack only
  CreateQueue: { actions: ['sqs:CreateQueue'], grants: ['localOnly'] },
  // s3-sync's preflight creates a missing destination bucket (operator credentials)
  CreateBucket: { actions: ['s3:CreateBucket'], grants: ['operatorOnly'] },
  // s3-sync --all-versions: the preflight checks the destination is versioned, and creates a
  // missing one (--create-buckets) versioned
  GetBucketVersioning: { actions: ['s3:GetBucketVersioning'], grants: ['operatorOnly'] },
  PutBucketVersioning: { actions: ['s3:PutBucketVersioning'], grants: ['operatorOnly'] },

  // S3 (job kinds): HeadObject and the source side of CopyObject authorize as GetObject;
  // multipart parts and CopyObject's destination as PutObject.
  GetObject: { actions: ['s3:GetObject'], grants: ['readBuckets', 'writeBuckets'] },
  HeadObject: { actions: ['s3:GetObject'], grants: ['readBuckets', 'writeBuckets'] },
  ListObjectsV2: { actions: ['s3:ListBucket'], grants: ['readBuckets', 'writeBuckets'] },
  // s3-sync --all-versions (versions-*.ts): listing versions, and HEAD/GET/CopyObject of one
  // version (a request with a versionId authorizes as GetObjectVersion, not GetObject)
  ListObjectVersions: { actions: ['s3:ListBucketVersions'], grants: ['readBuckets', 'writeBuckets'] },
  HeadObject_version: { actions: ['s3:GetObjectVersion'], grants: ['readBuckets', 'writeBuckets'] },
  GetObject_version: { actions: ['s3:GetObjectVersion'], grants: ['readBuckets'] },
  CopyObject_version: { actions: ['s3:GetObjectVersion'], grants: ['readBuckets'] },
  HeadBucket: { actions: ['s3:ListBucket'], grants: ['readBuckets', 'writeBuckets'] },
  // s3-sync's writes carry the object's tags (x-amz-tagging, or CopyObject's tagging directive
  // COPY, which reads them) and --acl (x-amz-acl): S3 authorizes those as PutObjectTagging /
  // GetObjectTagging / PutObjectAcl besides PutObject (object-properties.ts)
  PutObject: { actions: ['s3:PutObject', 's3:PutObjectTagging', 's3:PutObjectAcl'], grants: ['writeBuckets'] },
  CopyObject: {
    actions: ['s3:GetObject', 's3:GetObjectTagging', 's3:PutObject', 's3:PutObjectTagging', 's3:PutObjectAcl'],
    grants: ['writeBuckets'],
  },
  CreateMultipartUpload: {
    actions: ['s3:PutObject', 's3:PutObjectTagging', 's3:PutObjectAcl'],
    grants: ['writeBuckets'],
  },
  // SSE-KMS (--sse aws:kms): a write asks KMS for a data key, a read or a multipart upload decrypts it
  PutObject_kms: { actions: ['kms:GenerateDataKey'], grants: ['kmsKeys'] },
  CreateMultipartUpload_kms: { actions: ['kms:GenerateDataKey', 'kms:Decrypt'], grants: ['kmsKeys'] },
  GetObject_kms: { actions: ['kms:Decrypt'], grants: ['kmsKeys'] },
  // a copy by parts sets its tags again once complete (part-copy.ts)
  PutObjectTagging: { actions: ['s3:PutObjectTagging'], grants: ['writeBuckets'] },
  // the source's tags for a streamed copy (only of objects that have some) and verify's comparison
  GetObjectTagging: { actions: ['s3:GetObjectTagging'], grants: ['readBuckets', 'writeBuckets'] },
  UploadPart: { actions: ['s3:PutObject'], grants: ['writeBuckets'] },
  // a part copied from an object over CopyObject's 5 GiB (s3-sync part-copy.ts): reads the
  // source, writes the destination, like CopyObject
  UploadPartCopy: { actions: ['s3:GetObject', 's3:PutObject'], grants: ['writeBuckets'] },
  CompleteMultipartUpload: { actions: ['s3:PutObject'], grants: ['writeBuckets'] },
  AbortMultipartUpload: { actions: ['s3:AbortMultipartUpload'], grants: ['writeBuckets'] },
  DeleteObject: { actions: ['s3:DeleteObject'], grants: ['writeBuckets'] },
  DeleteObjects: { actions: ['s3:DeleteObject'], grants: ['writeBuckets'] },
  // --all-versions removes a destination version whose copy failed its checksum (by VersionId)
  DeleteObject_version: { actions: ['s3:DeleteObjectVersion'], grants: ['writeBuckets'] },
  // @aws-sdk/lib-storage `new Upload(...)`: multipart above its part size, aborted on failure
  'lib-storage:Upload': {
    actions: ['s3:PutObject', 's3:PutObjectTagging', 's3:PutObjectAcl', 's3:AbortMultipartUpload'],
    grants: ['writeBuckets'],
  },
  'lib-storage:Upload_kms': { actions: ['kms:GenerateDataKey', 'kms:Decrypt'], grants: ['kmsKeys'] },
};

/**
 * The commands convoy's source sends today (checked against the source by a test, both ways:
 * a new command fails the test until it is listed here, a removed one until it is dropped).
 * Only these commands' actions are granted.
 */
export const USED_COMMANDS: readonly string[] = [
  // state/ and shared/work-queue.ts
  'BatchGet',
  'BatchWrite',
  'Get',
  'Put',
  'Query',
  'Scan',
  'Update',
  'CreateTable',
  'DescribeTable',
  'CreateQueue',
  'ChangeMessageVisibility',
  'ChangeMessageVisibilityBatch',
  'DeleteMessageBatch',
  'GetQueueAttributes',
  'GetQueueUrl',
  'ReceiveMessage',
  'SendMessageBatch',
  // job kinds (worker/jobs/**)
  'BatchGetItem',
  'BatchWriteItem',
  'AbortMultipartUpload',
  'CompleteMultipartUpload',
  'CopyObject',
  'CreateBucket',
  'CreateMultipartUpload',
  'DeleteObject',
  'DeleteObjects',
  'GetBucketVersioning',
  'GetObject',
  'GetObjectTagging',
  'HeadBucket',
  'HeadObject',
  'ListObjectVersions',
  'ListObjectsV2',
  'PutBucketVersioning',
  'PutObject',
  'PutObjectTagging',
  'UploadPartCopy',
  'lib-storage:Upload',
];

/** Catalogue entries of a command: `BatchGetItem` also matches `BatchGetItem_dest` (same command, another target). */
function entriesOf(command: string): CommandPermission[] {
  return Object.entries(COMMAND_PERMISSIONS)
    .filter(([name]) => name === command || name.startsWith(`${command}_`))
    .map(([, p]) => p);
}

/** Actions granted on each kind of resource: the union over the used commands that name it. */
export function actionsFor(grant: Grant, used: readonly string[] = USED_COMMANDS): string[] {
  const out = new Set<string>();
  for (const command of used) {
    for (const p of entriesOf(command)) if (p.grants.includes(grant)) p.actions.forEach((a) => out.add(a));
  }
  return [...out].sort();
}

/**
 * S3 actions per bucket role. ListBucket applies to the bucket ARN, the others to its objects,
 * so they are split for the two resource forms.
 */
export function s3ActionsFor(grant: 'readBuckets' | 'writeBuckets'): { bucket: string[]; objects: string[] } {
  const all = actionsFor(grant).filter((a) => a.startsWith('s3:'));
  const onBucket = (a: string) => a === 's3:ListBucket' || a === 's3:ListBucketVersions';
  return { bucket: all.filter(onBucket), objects: all.filter((a) => !onBucket(a)) };
}

/** Find the SDK commands a source file sends: `new GetObjectCommand(` -> `GetObject`; lib-storage's `new Upload(`. */
export function commandsInSource(source: string): string[] {
  const found = new Set<string>();
  for (const m of source.matchAll(/\bnew\s+([A-Z][A-Za-z0-9]*)Command\s*\(/g)) found.add(m[1]!);
  if (/from '@aws-sdk\/lib-storage'/.test(source) && /\bnew\s+Upload\s*\(/.test(source))
    found.add('lib-storage:Upload');
  return [...found];
}
