/**
 * The production fleet: convoy's queue and DLQ, its two state tables, a least-privilege
 * instance role, and an auto-scaling group of EC2 workers that run `convoy worker` under systemd,
 * scaled on queue backlog per instance, with alarms and the outputs a run needs.
 *
 * Synthesizes offline (no lookups): the AMI is an SSM parameter resolved by CloudFormation at
 * deploy time, the VPC is created or given by ids. Deploy-time values are CFN parameters:
 *   ArtifactUri    s3://bucket/key of the convoy tarball (change it to roll out a release)
 *   InstanceSlots  how many instance-<k> files exist (0 = none): the per-instance file a job kind
 *                  takes (KindPlugin.instanceFiles), which app.ts passes in with the context
 */
import {
  Aws,
  BootstraplessSynthesizer,
  CfnOutput,
  CfnParameter,
  Duration,
  Fn,
  RemovalPolicy,
  Stack,
  type StackProps,
} from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as snsSubscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { BY_STATUS_INDEX, itemsTableDefinition, metaTableDefinition } from '../../state/schema.js';
import { convoyConfigFor } from './config-snippet.js';
import type { FleetKinds, FleetProps } from './fleet-props.js';
import { actionsFor, s3ActionsFor } from './iam-actions.js';
import { tableFromDefinition } from './state-tables.js';
import { renderUserData } from './user-data.js';

const RETENTION = Duration.days(14);

export class ConvoyFleetStack extends Stack {
  readonly role: iam.Role;
  readonly group: autoscaling.AutoScalingGroup;

  constructor(scope: Construct, id: string, fleet: FleetProps & FleetKinds, props: StackProps = {}) {
    // No assets, so no bootstrap stack is needed: the template deploys with `cdk deploy` or with
    // plain `aws cloudformation deploy`.
    super(scope, id, {
      analyticsReporting: false,
      synthesizer: new BootstraplessSynthesizer(),
      description: 'convoy fleet: work queue, state tables, workers',
      ...props,
    });
    const removalPolicy = fleet.destroyData ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;

    const artifactUri = new CfnParameter(this, 'ArtifactUri', {
      type: 'String',
      allowedPattern: '^s3://[a-z0-9][a-z0-9.-]+[a-z0-9]/.+$',
      description: 's3://bucket/key of the convoy artifact (tarball of dist/, package.json, node_modules)',
    });
    const instanceSlots = new CfnParameter(this, 'InstanceSlots', {
      type: 'Number',
      default: 0,
      minValue: 0,
      description: `number of per-instance files (instance-1 .. instance-N)${fleet.instanceFiles ? ` of ${fleet.instanceFiles.describe}, for convoy worker ${fleet.instanceFiles.workerOption}` : ''}`,
    });

    // --- queue and DLQ ------------------------------------------------------------------------
    const dlq = new sqs.Queue(this, 'DeadLetterQueue', {
      queueName: fleet.dlqName,
      retentionPeriod: RETENTION,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      removalPolicy,
    });
    const queue = new sqs.Queue(this, 'WorkQueue', {
      queueName: fleet.queueName,
      retentionPeriod: RETENTION,
      visibilityTimeout: Duration.seconds(fleet.visibilityTimeoutSec),
      // long polling by default; the worker asks for 20 s itself too
      receiveMessageWaitTime: Duration.seconds(20),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      deadLetterQueue: { queue: dlq, maxReceiveCount: fleet.maxReceiveCount },
      removalPolicy,
    });

    // --- state tables, from state/schema.ts ------------------------------------------------------
    const items = tableFromDefinition(this, 'ItemsTable', itemsTableDefinition(fleet.itemsTable), { removalPolicy });
    const meta = tableFromDefinition(this, 'MetaTable', metaTableDefinition(fleet.metaTable), { removalPolicy });

    // --- the instance role: exactly the actions convoy sends, on exactly these resources ----------
    this.role = new iam.Role(this, 'WorkerRole', {
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      description: 'convoy workers: state tables, work queues, configured buckets and tables only',
    });
    const allow = (sid: string, actions: string[], resources: string[]) => {
      if (actions.length && resources.length)
        this.role.addToPolicy(new iam.PolicyStatement({ sid, actions, resources }));
    };
    allow('ItemsTable', actionsFor('itemsTable'), [items.tableArn]);
    allow('ItemsByStatusIndex', actionsFor('itemsIndex'), [`${items.tableArn}/index/${BY_STATUS_INDEX}`]);
    allow('MetaTable', actionsFor('metaTable'), [meta.tableArn]);
    allow('WorkQueues', actionsFor('queues'), [queue.queueArn, dlq.queueArn]);
    const bucketArn = (b: string) => `arn:${Aws.PARTITION}:s3:::${b}`;
    const read = s3ActionsFor('readBuckets');
    const write = s3ActionsFor('writeBuckets');
    allow('ListReadBuckets', read.bucket, fleet.readBuckets.map(bucketArn));
    allow(
      'ReadObjects',
      read.objects,
      fleet.readBuckets.map((b) => `${bucketArn(b)}/*`),
    );
    allow('ListWriteBuckets', write.bucket, fleet.writeBuckets.map(bucketArn));
    allow(
      'WriteObjects',
      write.objects,
      fleet.writeBuckets.map((b) => `${bucketArn(b)}/*`),
    );
    allow('KmsKeys', actionsFor('kmsKeys'), fleet.kmsKeys);
    const tableArn = (t: string) => `arn:${Aws.PARTITION}:dynamodb:${Aws.REGION}:${Aws.ACCOUNT_ID}:table/${t}`;
    allow('ReadTables', actionsFor('readTables'), fleet.readTables.map(tableArn));
    allow('WriteTables', actionsFor('writeTables'), fleet.writeTables.map(tableArn));
    // The artifact: one object. "s3://b/k" -> "arn:aws:s3:::b/k".
    allow(
      'Artifact',
      ['s3:GetObject'],
      [`arn:${Aws.PARTITION}:s3:::${Fn.select(1, Fn.split('s3://', artifactUri.valueAsString))}`],
    );
    if (fleet.instanceFilesSource?.startsWith('s3://')) {
      const rest = fleet.instanceFilesSource.slice('s3://'.length).replace(/\/+$/, '');
      allow('InstanceFiles', ['s3:GetObject'], [`arn:${Aws.PARTITION}:s3:::${rest}/instance-*.json`]);
    } else if (fleet.instanceFilesSource?.startsWith('ssm:')) {
      const path = fleet.instanceFilesSource.slice('ssm:'.length).replace(/^\/+|\/+$/g, '');
      allow(
        'InstanceFileParameters',
        ['ssm:GetParameter'],
        [`arn:${Aws.PARTITION}:ssm:${Aws.REGION}:${Aws.ACCOUNT_ID}:parameter/${path}/instance-*`],
      );
    }

    // --- network -----------------------------------------------------------------------------------
    let vpc: ec2.IVpc;
    let subnets: ec2.SubnetSelection;
    let publicIp: boolean;
    if (fleet.vpcId) {
      vpc = ec2.Vpc.fromVpcAttributes(this, 'Vpc', {
        vpcId: fleet.vpcId,
        availabilityZones: fleet.availabilityZones,
        privateSubnetIds: fleet.subnetIds,
      });
      subnets = {
        subnets: fleet.subnetIds.map((s, i) =>
          ec2.Subnet.fromSubnetAttributes(this, `Subnet${i}`, {
            subnetId: s,
            availabilityZone: fleet.availabilityZones[i],
          }),
        ),
      };
      publicIp = false; // given subnets reach AWS through their own NAT or endpoints
    } else {
      // Public subnets (no NAT gateway to pay for); S3 and DynamoDB traffic stays on gateway endpoints.
      const created = new ec2.Vpc(this, 'Vpc', {
        maxAzs: 2,
        natGateways: 0,
        subnetConfiguration: [{ name: 'workers', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 20 }],
      });
      created.addGatewayEndpoint('S3Endpoint', { service: ec2.GatewayVpcEndpointAwsService.S3 });
      created.addGatewayEndpoint('DynamoDbEndpoint', { service: ec2.GatewayVpcEndpointAwsService.DYNAMODB });
      vpc = created;
      subnets = { subnetType: ec2.SubnetType.PUBLIC };
      publicIp = true;
    }
    const securityGroup = new ec2.SecurityGroup(this, 'WorkerSecurityGroup', {
      vpc,
      description: 'convoy workers: no inbound; outbound HTTPS to AWS APIs and peers',
      allowAllOutbound: true,
    });

    // --- launch template and auto-scaling group ---------------------------------------------------
    const instanceType = new ec2.InstanceType(fleet.instanceType);
    const arm = instanceType.architecture === ec2.InstanceArchitecture.ARM_64;
    const configJson = this.toJsonString(
      convoyConfigFor({
        region: this.region,
        itemsTable: items.tableName,
        metaTable: meta.tableName,
        queueName: queue.queueName,
        dlqName: dlq.queueName,
        queueUrl: queue.queueUrl,
        dlqUrl: dlq.queueUrl,
      }),
    );
    const userData = ec2.UserData.custom(
      renderUserData({
        region: this.region,
        artifactUri: artifactUri.valueAsString,
        configJson,
        metaTable: meta.tableName,
        fleet: fleet.fleet,
        instanceFilesSource: fleet.instanceFilesSource,
        instanceFiles: fleet.instanceFiles,
        instanceSlots: instanceSlots.valueAsString,
        workerConcurrency: fleet.workerConcurrency,
        shutdownDeadlineSec: fleet.shutdownDeadlineSec,
      }),
    );
    const launchTemplate = new ec2.LaunchTemplate(this, 'WorkerLaunchTemplate', {
      instanceType,
      machineImage: ec2.MachineImage.latestAmazonLinux2023({
        cpuType: arm ? ec2.AmazonLinuxCpuType.ARM_64 : ec2.AmazonLinuxCpuType.X86_64,
      }),
      role: this.role,
      userData,
      securityGroup,
      requireImdsv2: true,
      associatePublicIpAddress: publicIp,
      blockDevices: [
        {
          deviceName: '/dev/xvda',
          volume: ec2.BlockDeviceVolume.ebs(20, { volumeType: ec2.EbsDeviceVolumeType.GP3, encrypted: true }),
        },
      ],
    });
    this.group = new autoscaling.AutoScalingGroup(this, 'WorkerGroup', {
      vpc,
      vpcSubnets: subnets,
      launchTemplate,
      minCapacity: fleet.minInstances,
      maxCapacity: fleet.maxInstances,
      // the scaling policy divides the backlog by this metric
      groupMetrics: [new autoscaling.GroupMetrics(autoscaling.GroupMetric.IN_SERVICE_INSTANCES)],
      // scale-in sends SIGTERM through systemd: in-flight items are finished or released
      defaultInstanceWarmup: Duration.minutes(3),
      // a new ArtifactUri (a release) makes a new launch template version: replace instances a
      // quarter of the fleet at a time (each stops gracefully on SIGTERM)
      updatePolicy: autoscaling.UpdatePolicy.rollingUpdate({
        maxBatchSize: Math.max(1, Math.ceil(fleet.maxInstances / 4)),
        minInstancesInService: 0,
      }),
    });

    // --- scaling on backlog per instance (target tracking on a metric-math expression) -------------
    // CDK's L2 target tracking takes plain metrics only, so the policy is the L1 resource.
    new autoscaling.CfnScalingPolicy(this, 'BacklogPerInstanceScaling', {
      autoScalingGroupName: this.group.autoScalingGroupName,
      policyType: 'TargetTrackingScaling',
      targetTrackingConfiguration: {
        targetValue: fleet.backlogPerInstance,
        customizedMetricSpecification: {
          metrics: [
            {
              id: 'backlog',
              returnData: false,
              metricStat: {
                metric: {
                  namespace: 'AWS/SQS',
                  metricName: 'ApproximateNumberOfMessagesVisible',
                  dimensions: [{ name: 'QueueName', value: queue.queueName }],
                },
                stat: 'Sum',
              },
            },
            {
              id: 'instances',
              returnData: false,
              metricStat: {
                metric: {
                  namespace: 'AWS/AutoScaling',
                  metricName: 'GroupInServiceInstances',
                  dimensions: [{ name: 'AutoScalingGroupName', value: this.group.autoScalingGroupName }],
                },
                stat: 'Average',
              },
            },
            // with no instance in service the whole backlog counts, so the group scales out from 0
            {
              id: 'backlogPerInstance',
              label: 'visible messages per in-service instance',
              expression: 'IF(instances > 0, backlog / instances, backlog)',
              returnData: true,
            },
          ],
        },
      },
    });

    // --- alarms ------------------------------------------------------------------------------------
    const dlqNotEmpty = new cloudwatch.Alarm(this, 'DlqNotEmptyAlarm', {
      alarmDescription:
        'convoy: messages in the dead-letter queue (items that exhausted their retries): see `convoy monitor --failed`, then `convoy requeue`',
      metric: dlq.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: 'Maximum' }),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    const oldestMessage = new cloudwatch.Alarm(this, 'OldestMessageAgeAlarm', {
      alarmDescription: `convoy: the oldest work message is older than ${fleet.oldestMessageAlarmSec} s (workers stuck, too few, or a poison item)`,
      metric: queue.metricApproximateAgeOfOldestMessage({ period: Duration.minutes(5), statistic: 'Maximum' }),
      threshold: fleet.oldestMessageAlarmSec,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 2,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    if (fleet.alarmEmail) {
      const topic = new sns.Topic(this, 'AlarmTopic', { displayName: 'convoy fleet alarms' });
      topic.addSubscription(new snsSubscriptions.EmailSubscription(fleet.alarmEmail));
      for (const alarm of [dlqNotEmpty, oldestMessage]) alarm.addAlarmAction(new cwActions.SnsAction(topic));
    }

    // --- outputs: the names a run needs ------------------------------------------------------------
    const out = (id: string, value: string, description: string) => new CfnOutput(this, id, { value, description });
    out('Region', this.region, 'state.region');
    out('ItemsTableName', items.tableName, 'state.itemsTable');
    out('MetaTableName', meta.tableName, 'state.metaTable');
    out('QueueName', queue.queueName, 'state.queueName');
    out('DlqName', dlq.queueName, 'state.dlqName');
    out('QueueUrl', queue.queueUrl, 'state.queueUrl');
    out('DlqUrl', dlq.queueUrl, 'state.dlqUrl');
    out('AutoScalingGroupName', this.group.autoScalingGroupName, 'scale with aws autoscaling set-desired-capacity');
    out('WorkerRoleArn', this.role.roleArn, 'the role every worker instance runs as');
    out('ConvoyConfig', configJson, 'convoy.config.json for this fleet (save it and pass --config)');
  }
}
