/**
 * convoy's two state tables as CDK resources, built FROM state/schema.ts's definitions (the same
 * CreateTable inputs the local stack uses), so production and the local stack cannot drift:
 * keys, attribute types and the byStatus index all come from one place. Production adds what
 * the local stack has no use for: on-demand billing is kept, point-in-time recovery is on.
 */
import type { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import type { Construct } from 'constructs';

const ATTRIBUTE_TYPES: Record<string, dynamodb.AttributeType> = {
  S: dynamodb.AttributeType.STRING,
  N: dynamodb.AttributeType.NUMBER,
  B: dynamodb.AttributeType.BINARY,
};

const PROJECTIONS: Record<string, dynamodb.ProjectionType> = {
  ALL: dynamodb.ProjectionType.ALL,
  KEYS_ONLY: dynamodb.ProjectionType.KEYS_ONLY,
  INCLUDE: dynamodb.ProjectionType.INCLUDE,
};

type KeySchema = NonNullable<CreateTableCommandInput['KeySchema']>;

function attribute(def: CreateTableCommandInput, name: string): dynamodb.Attribute {
  const found = def.AttributeDefinitions?.find((a) => a.AttributeName === name);
  const type = found?.AttributeType && ATTRIBUTE_TYPES[found.AttributeType];
  if (!type)
    throw new Error(`table ${def.TableName}: key attribute ${name} has no (known) type in AttributeDefinitions`);
  return { name, type };
}

function keysOf(
  def: CreateTableCommandInput,
  schema: KeySchema | undefined,
): { partitionKey: dynamodb.Attribute; sortKey?: dynamodb.Attribute } {
  const hash = schema?.find((k) => k.KeyType === 'HASH');
  const range = schema?.find((k) => k.KeyType === 'RANGE');
  if (!hash?.AttributeName) throw new Error(`table ${def.TableName}: no HASH key`);
  return {
    partitionKey: attribute(def, hash.AttributeName),
    sortKey: range?.AttributeName ? attribute(def, range.AttributeName) : undefined,
  };
}

export interface StateTableOptions {
  removalPolicy: RemovalPolicy;
}

/** A Table with the definition's keys and global secondary indexes, on-demand, with PITR. */
export function tableFromDefinition(
  scope: Construct,
  id: string,
  def: CreateTableCommandInput,
  opts: StateTableOptions,
): dynamodb.Table {
  if (def.BillingMode && def.BillingMode !== 'PAY_PER_REQUEST') {
    throw new Error(`table ${def.TableName}: convoy's tables are on-demand; the definition says ${def.BillingMode}`);
  }
  const table = new dynamodb.Table(scope, id, {
    tableName: def.TableName,
    ...keysOf(def, def.KeySchema),
    billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    encryption: dynamodb.TableEncryption.AWS_MANAGED,
    removalPolicy: opts.removalPolicy,
  });
  for (const gsi of def.GlobalSecondaryIndexes ?? []) {
    const projectionType = PROJECTIONS[gsi.Projection?.ProjectionType ?? 'ALL'];
    if (!gsi.IndexName || !projectionType)
      throw new Error(`table ${def.TableName}: index without a name or with an unknown projection`);
    table.addGlobalSecondaryIndex({
      indexName: gsi.IndexName,
      ...keysOf(def, gsi.KeySchema),
      projectionType,
      nonKeyAttributes:
        projectionType === dynamodb.ProjectionType.INCLUDE ? gsi.Projection?.NonKeyAttributes : undefined,
    });
  }
  if (def.LocalSecondaryIndexes?.length)
    throw new Error(`table ${def.TableName}: local secondary indexes are not supported by this converter`);
  return table;
}
