/**
 * The CDK fleet stack, synthesized once for this file with a full set of context, asserted with
 * aws-cdk-lib/assertions: resources and properties, and the least-privilege rule (every policy
 * statement walked: no `*` action, every resource one of the ARNs this fleet names).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../infra/cdk/app.js';
import { COMMAND_PERMISSIONS } from '../../infra/cdk/iam-actions.js';
import { BY_STATUS_INDEX, itemsTableDefinition, metaTableDefinition } from '../../state/schema.js';
import { allPolicyStatements, asList, renderIntrinsic } from './policy-walk.js';

const CONTEXT = {
  itemsTable: 'prod-items',
  metaTable: 'prod-meta',
  queueName: 'prod-work',
  dlqName: 'prod-work-dlq',
  maxReceiveCount: '7',
  readBuckets: 'src-bucket-a,src-bucket-b',
  writeBuckets: 'dst-bucket',
  readTables: 'legacy-orders',
  writeTables: 'new-orders',
  instanceFilesSource: 's3://fleet-config/customers/',
  minInstances: '1',
  maxInstances: '12',
  backlogPerInstance: '300',
  oldestMessageAlarmSec: '1800',
  alarmEmail: 'ops@example.com',
};

let template: Template;
let json: any;
const logicalId = (type: string, match: (r: any) => boolean = () => true) => {
  const found = Object.entries(json.Resources).filter(([, r]: [string, any]) => r.Type === type && match(r));
  expect(found.length, `one ${type}`).toBe(1);
  return found[0]![0];
};

beforeAll(() => {
  const { stack } = buildApp(CONTEXT, mkdtempSync(path.join(tmpdir(), 'cdk-test-')));
  template = Template.fromStack(stack);
  json = template.toJSON();
});

describe('state tables come from state/schema.ts', () => {
  it.each([
    ['prod-items', itemsTableDefinition('prod-items')],
    ['prod-meta', metaTableDefinition('prod-meta')],
  ])('%s: keys, attributes, indexes, on-demand, PITR', (name, def) => {
    const id = logicalId('AWS::DynamoDB::Table', (r) => r.Properties.TableName === name);
    const props = json.Resources[id].Properties;
    expect(props.BillingMode).toBe('PAY_PER_REQUEST');
    expect(props.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
    expect(props.KeySchema).toEqual(def.KeySchema);
    const sortAttrs = (a: any[]) => [...a].sort((x, y) => x.AttributeName.localeCompare(y.AttributeName));
    expect(sortAttrs(props.AttributeDefinitions)).toEqual(sortAttrs(def.AttributeDefinitions!));
    expect(
      (props.GlobalSecondaryIndexes ?? []).map((g: any) => ({
        IndexName: g.IndexName,
        KeySchema: g.KeySchema,
        Projection: g.Projection,
      })),
    ).toEqual(
      (def.GlobalSecondaryIndexes ?? []).map((g) => ({
        IndexName: g.IndexName,
        KeySchema: g.KeySchema,
        Projection: g.Projection,
      })),
    );
    // retained by default: deleting the stack must not delete a run's progress
    expect(json.Resources[id].DeletionPolicy).toBe('Retain');
  });

  it('the items table has the byStatus index', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      TableName: 'prod-items',
      GlobalSecondaryIndexes: [Match.objectLike({ IndexName: BY_STATUS_INDEX })],
    });
  });
});

describe('queues', () => {
  it('the work queue redrives to the DLQ after the configured receives', () => {
    const dlqId = logicalId('AWS::SQS::Queue', (r) => r.Properties.QueueName === 'prod-work-dlq');
    template.hasResourceProperties('AWS::SQS::Queue', {
      QueueName: 'prod-work',
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [dlqId, 'Arn'] }, maxReceiveCount: 7 },
      MessageRetentionPeriod: 1_209_600,
    });
    template.hasResourceProperties('AWS::SQS::Queue', {
      QueueName: 'prod-work-dlq',
      MessageRetentionPeriod: 1_209_600,
    });
  });
});

describe('least privilege', () => {
  const ids = () => ({
    items: logicalId('AWS::DynamoDB::Table', (r) => r.Properties.TableName === 'prod-items'),
    meta: logicalId('AWS::DynamoDB::Table', (r) => r.Properties.TableName === 'prod-meta'),
    queue: logicalId('AWS::SQS::Queue', (r) => r.Properties.QueueName === 'prod-work'),
    dlq: logicalId('AWS::SQS::Queue', (r) => r.Properties.QueueName === 'prod-work-dlq'),
  });

  it('every statement: Allow, named actions only (no *), resources scoped to the named ARNs', () => {
    const { items, meta, queue, dlq } = ids();
    const statements = allPolicyStatements(json);
    expect(statements.length).toBeGreaterThanOrEqual(6);
    const knownActions = new Set(Object.values(COMMAND_PERMISSIONS).flatMap((p) => p.actions));
    knownActions.add('ssm:GetParameter');
    const tableArn = (t: string) => `arn:{AWS::Partition}:dynamodb:{AWS::Region}:{AWS::AccountId}:table/${t}`;
    const allowed = new Map<string, Set<string>>([
      [
        `{${items}.Arn}`,
        new Set([
          'dynamodb:BatchGetItem',
          'dynamodb:BatchWriteItem',
          'dynamodb:GetItem',
          'dynamodb:Query',
          'dynamodb:UpdateItem',
        ]),
      ],
      [`{${items}.Arn}/index/${BY_STATUS_INDEX}`, new Set(['dynamodb:Query'])],
      [
        `{${meta}.Arn}`,
        new Set(['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:Scan', 'dynamodb:UpdateItem']),
      ],
      [
        `{${queue}.Arn}`,
        new Set([
          'sqs:ChangeMessageVisibility',
          'sqs:DeleteMessage',
          'sqs:GetQueueAttributes',
          'sqs:GetQueueUrl',
          'sqs:ReceiveMessage',
          'sqs:SendMessage',
        ]),
      ],
      [
        `{${dlq}.Arn}`,
        new Set([
          'sqs:ChangeMessageVisibility',
          'sqs:DeleteMessage',
          'sqs:GetQueueAttributes',
          'sqs:GetQueueUrl',
          'sqs:ReceiveMessage',
          'sqs:SendMessage',
        ]),
      ],
      ['arn:{AWS::Partition}:s3:::src-bucket-a', new Set(['s3:ListBucket', 's3:ListBucketVersions'])],
      ['arn:{AWS::Partition}:s3:::src-bucket-b', new Set(['s3:ListBucket', 's3:ListBucketVersions'])],
      [
        'arn:{AWS::Partition}:s3:::src-bucket-a/*',
        new Set(['s3:GetObject', 's3:GetObjectVersion', 's3:GetObjectTagging']),
      ],
      [
        'arn:{AWS::Partition}:s3:::src-bucket-b/*',
        new Set(['s3:GetObject', 's3:GetObjectVersion', 's3:GetObjectTagging']),
      ],
      ['arn:{AWS::Partition}:s3:::dst-bucket', new Set(['s3:ListBucket', 's3:ListBucketVersions'])],
      [
        'arn:{AWS::Partition}:s3:::dst-bucket/*',
        new Set([
          's3:GetObject',
          's3:GetObjectVersion',
          's3:GetObjectTagging',
          's3:PutObject',
          's3:PutObjectTagging',
          's3:PutObjectAcl',
          's3:AbortMultipartUpload',
          's3:DeleteObject',
          's3:DeleteObjectVersion',
        ]),
      ],
      [
        tableArn('legacy-orders'),
        new Set(['dynamodb:DescribeTable', 'dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:Scan']),
      ],
      // destinations are written, and read back by verify
      [
        tableArn('new-orders'),
        new Set([
          'dynamodb:DescribeTable',
          'dynamodb:BatchWriteItem',
          'dynamodb:PutItem',
          'dynamodb:BatchGetItem',
          'dynamodb:GetItem',
          'dynamodb:Query',
          'dynamodb:Scan',
        ]),
      ],
      ['arn:{AWS::Partition}:s3:::select(1,split(s3://,{ArtifactUri}))', new Set(['s3:GetObject'])],
      ['arn:{AWS::Partition}:s3:::fleet-config/customers/instance-*.json', new Set(['s3:GetObject'])],
    ]);
    const granted = new Map<string, Set<string>>();
    for (const { holder, statement } of statements) {
      const where = `${holder}/${statement.Sid ?? '?'}`;
      expect(statement.Effect, where).toBe('Allow');
      expect(statement.NotAction, where).toBeUndefined();
      expect(statement.NotResource, where).toBeUndefined();
      const actions = asList(statement.Action);
      expect(actions.length, where).toBeGreaterThan(0);
      for (const action of actions) {
        expect(action, `${where}: wildcard action`).not.toContain('*');
        expect(knownActions.has(action), `${where}: ${action} is not an action convoy's code uses`).toBe(true);
      }
      for (const resource of asList(statement.Resource)) {
        const r = renderIntrinsic(resource);
        expect(r, `${where}: wildcard resource`).not.toBe('*');
        const ok = allowed.get(r);
        expect(ok, `${where}: resource ${r} is not one this fleet names`).toBeDefined();
        for (const action of actions) {
          expect(ok!.has(action), `${where}: ${action} not allowed on ${r}`).toBe(true);
          if (!granted.has(r)) granted.set(r, new Set());
          granted.get(r)!.add(action);
        }
      }
    }
    // and nothing the code needs is missing
    expect(granted.get(`{${items}.Arn}`)).toEqual(allowed.get(`{${items}.Arn}`));
    expect(granted.get(`{${queue}.Arn}`)).toEqual(allowed.get(`{${queue}.Arn}`));
    expect(granted.get(`{${meta}.Arn}`)).toEqual(allowed.get(`{${meta}.Arn}`));
    expect(granted.get('arn:{AWS::Partition}:s3:::src-bucket-a/*')).toEqual(
      new Set(['s3:GetObject', 's3:GetObjectVersion', 's3:GetObjectTagging']),
    );
  });

  it('read buckets get no write action, no managed policies are attached, only EC2 assumes the role', () => {
    for (const { statement } of allPolicyStatements(json)) {
      const resources = asList(statement.Resource).map(renderIntrinsic);
      if (resources.some((r) => r.includes(':::src-bucket'))) {
        // reads only: objects (every version), their tags (s3-sync carries them), listings
        const readOnly = [
          's3:GetObject',
          's3:GetObjectVersion',
          's3:GetObjectTagging',
          's3:ListBucket',
          's3:ListBucketVersions',
        ];
        expect(asList(statement.Action).every((a) => readOnly.includes(a))).toBe(true);
      }
    }
    const roles = Object.values(json.Resources).filter((r: any) => r.Type === 'AWS::IAM::Role') as any[];
    expect(roles).toHaveLength(1);
    expect(roles[0].Properties.ManagedPolicyArns).toBeUndefined();
    expect(roles[0].Properties.AssumeRolePolicyDocument.Statement).toEqual([
      { Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' } },
    ]);
  });
});

describe('workers', () => {
  it('launch template: IMDSv2, the role, user data that installs Node 24 and runs convoy worker under systemd', () => {
    const lt = json.Resources[logicalId('AWS::EC2::LaunchTemplate')].Properties.LaunchTemplateData;
    expect(lt.MetadataOptions.HttpTokens).toBe('required');
    expect(lt.IamInstanceProfile).toBeDefined();
    const script = renderIntrinsic(lt.UserData['Fn::Base64']);
    // Node 24 from AL2023's own nodejs24 package (Node 20 is past its end of life), run by its
    // namespaced name so that `alternatives` pointing `node` elsewhere cannot change the runtime
    expect(script).toContain('dnf install -y nodejs24 ');
    expect(script).toContain('NODE_BIN=/usr/bin/node-24\n');
    expect(script).toContain("NODE_BIN='$NODE_BIN'\n");
    expect(script).toContain('exec "$NODE_BIN" /opt/convoy/dist/coordinator/cli/main.js');
    expect(script).not.toMatch(/nodejs20|node-20/);
    expect(script).toContain("aws s3 cp --region '{AWS::Region}' '{ArtifactUri}' /tmp/convoy.tgz");
    expect(script).toContain('systemctl enable --now convoy-worker.service');
    expect(script).toContain('/opt/convoy/dist/coordinator/cli/main.js --config /etc/convoy/convoy.config.json');
    expect(script).toContain(
      'aws s3 cp --region "$REGION" "s3://fleet-config/customers/instance-$SLOT.json" /etc/convoy/customers.json',
    );
    // the built-in kinds' file per instance: the uploads kind's customers, for convoy worker --customers-file
    expect(script).toContain('ARGS+=(--customers-file /etc/convoy/customers.json)');
    // every core of the instance works: one worker process per core under a supervisor
    expect(script).toContain('ARGS=(worker --processes auto --concurrency 64 ');
    expect(script).toContain('"itemsTable":"');
  });

  it('the rendered user data is valid bash, and so are the scripts it installs', () => {
    const lt = json.Resources[logicalId('AWS::EC2::LaunchTemplate')].Properties.LaunchTemplateData;
    const script = renderIntrinsic(lt.UserData['Fn::Base64']);
    const dir = mkdtempSync(path.join(tmpdir(), 'userdata-'));
    const files: Record<string, string> = { 'user-data.sh': script };
    for (const name of ['CONVOY_SLOT', 'CONVOY_START']) {
      const m = new RegExp(`<<'${name}'\\n([\\s\\S]*?)\\n${name}\\n`).exec(script);
      expect(m, name).not.toBeNull();
      files[`${name}.sh`] = m![1]!;
    }
    for (const [name, text] of Object.entries(files)) {
      writeFileSync(path.join(dir, name), text);
      execFileSync('bash', ['-n', path.join(dir, name)]); // throws on a syntax error
    }
  });

  it('auto-scaling group: bounds, in-service metric, rolling update', () => {
    template.hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', {
      MinSize: '1',
      MaxSize: '12',
      MetricsCollection: [{ Granularity: '1Minute', Metrics: ['GroupInServiceInstances'] }],
    });
    template.hasResource('AWS::AutoScaling::AutoScalingGroup', {
      UpdatePolicy: Match.objectLike({ AutoScalingRollingUpdate: Match.anyValue() }),
    });
  });

  it('scales on backlog per in-service instance', () => {
    const queue = logicalId('AWS::SQS::Queue', (r) => r.Properties.QueueName === 'prod-work');
    const policy = json.Resources[logicalId('AWS::AutoScaling::ScalingPolicy')].Properties;
    expect(policy.PolicyType).toBe('TargetTrackingScaling');
    expect(policy.TargetTrackingConfiguration.TargetValue).toBe(300);
    const metrics = policy.TargetTrackingConfiguration.CustomizedMetricSpecification.Metrics;
    const backlog = metrics.find((m: any) => m.Id === 'backlog');
    expect(backlog.MetricStat.Metric).toMatchObject({
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
    });
    expect(backlog.MetricStat.Metric.Dimensions[0].Value).toEqual({ 'Fn::GetAtt': [queue, 'QueueName'] });
    const result = metrics.filter((m: any) => m.ReturnData);
    expect(result).toHaveLength(1);
    expect(result[0].Expression).toContain('backlog / instances');
  });

  it('alarms: DLQ not empty and age of the oldest message, notified by email', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      AlarmActions: Match.anyValue(),
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateAgeOfOldestMessage',
      Threshold: 1800,
      ComparisonOperator: 'GreaterThanThreshold',
    });
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.com' });
  });

  it('outputs the names a run needs, and the config file', () => {
    for (const name of [
      'Region',
      'ItemsTableName',
      'MetaTableName',
      'QueueUrl',
      'DlqUrl',
      'QueueName',
      'DlqName',
      'AutoScalingGroupName',
      'ConvoyConfig',
    ]) {
      expect(json.Outputs[name], name).toBeDefined();
    }
    const config = renderIntrinsic(json.Outputs.ConvoyConfig.Value);
    expect(config).toContain('"state":{"region":"{AWS::Region}"');
    expect(config).toContain('"itemsTable":"{');
  });

  it('synthesizes without a bootstrap stack or lookups', () => {
    expect(json.Parameters.BootstrapVersion).toBeUndefined();
    expect(Object.keys(json.Parameters).sort()).toEqual(expect.arrayContaining(['ArtifactUri', 'InstanceSlots']));
  });
});
