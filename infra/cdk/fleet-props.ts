/**
 * The fleet stack's inputs, validated once. They come from CDK context (`-c key=value` or
 * `cdk.json`), so `npm run synth` needs no AWS account and does no lookups: everything that
 * would need a lookup (VPC, subnets) is either created or given by id.
 *
 * Deploy-time values that change per release (the artifact URI, how many instance slots) are
 * CloudFormation parameters instead (see fleet-stack.ts), so a new release is a parameter update.
 *
 * What the job kinds add to a fleet (a file per instance for `convoy worker`) is not context:
 * the composition root (app.ts) reads it from the kinds' plugins (`FleetKinds`).
 */
import { MAX_RECEIVE_COUNT } from '../../shared/work-queue.js';
import * as z from 'zod';
import { formatZodIssues } from '../../shared/config.js';
import { InputError } from '../../shared/errors.js';
import type { InstanceFiles } from '../../worker/job-kind.js';

const bucketName = z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'not an S3 bucket name');
const tableName = z.string().regex(/^[A-Za-z0-9_.-]{3,255}$/, 'not a DynamoDB table name');

/** A comma-separated context value ("a,b") or a JSON array, as a list. */
const list = <T extends z.ZodTypeAny>(item: T) =>
  z.preprocess((v) => {
    if (typeof v !== 'string') return v;
    const s = v.trim();
    if (s.startsWith('[')) return JSON.parse(s);
    return s ? s.split(',').map((x) => x.trim()) : [];
  }, z.array(item));

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const bool = z.preprocess((v) => (typeof v === 'string' ? v === 'true' : v), z.boolean());

const fleetPropsObject = z
  .object({
    /** Stack name. @defaultValue 'convoy-fleet' */
    stackName: z
      .string()
      .regex(/^[A-Za-z][A-Za-z0-9-]{0,127}$/)
      .default('convoy-fleet'),
    /** Fleet name: prefixes the slot rows and the instance labels. @defaultValue 'convoy' */
    fleet: z
      .string()
      .regex(/^[a-z0-9-]{1,32}$/)
      .default('convoy'),
    /** Table and queue names; the defaults are the config defaults, so `state` needs only a region. */
    itemsTable: tableName.default('convoy-items'),
    metaTable: tableName.default('convoy-meta'),
    queueName: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,80}$/)
      .default('convoy-work'),
    dlqName: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,80}$/)
      .default('convoy-work-dlq'),
    /** Receives before SQS moves a message to the DLQ: a safety net (see MAX_RECEIVE_COUNT). @defaultValue 100, as in the local stack */
    maxReceiveCount: int(1, 1000).default(MAX_RECEIVE_COUNT),
    /** Visibility timeout of the work queue, seconds; the worker extends it while it holds a lease. @defaultValue 120 */
    visibilityTimeoutSec: int(0, 43_200).default(120),
    /** Buckets the fleet reads (sources); objects and listing only. */
    readBuckets: list(bucketName).default([]),
    /** Buckets the fleet writes (destinations); also readable (sync compares both sides). */
    writeBuckets: list(bucketName).default([]),
    /**
     * KMS key ARNs of SSE-KMS objects the fleet writes (s3-sync --sse aws:kms) or reads: granted
     * kms:GenerateDataKey and kms:Decrypt (the key policy must allow the fleet's role too).
     */
    kmsKeys: list(
      z.string().regex(/^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key\/[0-9a-zA-Z-]+$/, 'not a KMS key ARN'),
    ).default([]),
    /** DynamoDB tables the table jobs read / write (dynamodb-copy). */
    readTables: list(tableName).default([]),
    writeTables: list(tableName).default([]),
    /**
     * Where each instance's file comes from (`instance-<k>.json`, for the job kind that takes one:
     * KindPlugin.instanceFiles): `s3://bucket/prefix` or `ssm:/parameter/path`; none when absent.
     */
    instanceFilesSource: z
      .string()
      .regex(
        /^(s3:\/\/[a-z0-9][a-z0-9.-]+[a-z0-9](\/[^\s]*)?|ssm:\/[A-Za-z0-9_./-]+)$/,
        'use s3://bucket/prefix or ssm:/path',
      )
      .optional(),
    /** EC2 instance type; Graviton types (c7g, m7g, ...) get an arm64 AMI. @defaultValue 'c7g.large' */
    instanceType: z
      .string()
      .regex(/^[a-z][a-z0-9-]*\.[a-z0-9]+$/)
      .default('c7g.large'),
    /** Auto-scaling bounds. @defaultValue 0 / 10 */
    minInstances: int(0, 1000).default(0),
    maxInstances: int(1, 1000).default(10),
    /** Target backlog (visible messages) per in-service instance. @defaultValue 500 */
    backlogPerInstance: int(1, 1_000_000).default(500),
    /** Alarm when the oldest message is older than this, seconds. @defaultValue 3600 */
    oldestMessageAlarmSec: int(60, 1_209_600).default(3_600),
    /** `convoy worker` flags for every instance. @defaultValue 64 */
    workerConcurrency: int(1, 1000).default(64),
    /** How long systemd lets a stopping worker finish in-flight items (SIGTERM deadline), seconds. @defaultValue 60 */
    shutdownDeadlineSec: int(5, 3600).default(60),
    /** Existing VPC (no lookup: ids given); a new 2-AZ VPC with public subnets and S3/DynamoDB gateway endpoints when absent. */
    vpcId: z
      .string()
      .regex(/^vpc-[0-9a-f]+$/)
      .optional(),
    subnetIds: list(z.string().regex(/^subnet-[0-9a-f]+$/)).default([]),
    availabilityZones: list(z.string().min(3)).default([]),
    /** Email for alarm notifications (an SNS topic is created when set). */
    alarmEmail: z.string().email().optional(),
    /** Delete tables and queues with the stack (default: tables are retained). */
    destroyData: bool.default(false),
  })
  .strict();

export const fleetPropsSchema = fleetPropsObject.superRefine((p, ctx) => {
  if (p.maxInstances < p.minInstances)
    ctx.addIssue({ code: 'custom', path: ['maxInstances'], message: 'must be >= minInstances' });
  if (p.vpcId && (!p.subnetIds.length || p.subnetIds.length !== p.availabilityZones.length)) {
    ctx.addIssue({
      code: 'custom',
      path: ['subnetIds'],
      message: 'with vpcId, give subnetIds and availabilityZones, one zone per subnet',
    });
  }
});

export type FleetProps = z.infer<typeof fleetPropsSchema>;

/** What the job kinds declare that the fleet carries out (from their plugins, by app.ts). */
export interface FleetKinds {
  /** the file each instance gives `convoy worker` (at most one kind declares one); none: no instance files */
  instanceFiles?: InstanceFiles;
}

/** Context keys the app reads (everything else in the CDK context is ignored). */
export const FLEET_CONTEXT_KEYS = Object.keys(fleetPropsObject.shape) as Array<keyof FleetProps>;

export function parseFleetProps(input: Record<string, unknown>): FleetProps {
  let parsed;
  try {
    parsed = fleetPropsSchema.safeParse(input);
  } catch (err) {
    throw new InputError(`CDK context is invalid: ${(err as Error).message} (lists are "a,b" or a JSON array)`, {
      cause: err,
    });
  }
  if (!parsed.success) {
    throw new InputError(
      `CDK context for the convoy fleet is invalid:\n${formatZodIssues(parsed.error)}\nset it with -c key=value (see docs/deploy.md)`,
    );
  }
  return parsed.data;
}
