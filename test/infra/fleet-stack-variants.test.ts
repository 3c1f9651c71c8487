/**
 * The fleet stack with the other choices (synthesized once): instance files from SSM, an
 * existing VPC given by ids (no lookup), x86 instances, tables deleted with the stack, and no
 * buckets or tables configured (so no S3 or table grants at all).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../infra/cdk/app.js';
import { allPolicyStatements, asList, renderIntrinsic } from './policy-walk.js';

let json: any;
beforeAll(() => {
  const { stack } = buildApp(
    {
      instanceFilesSource: 'ssm:/convoy/prod/customers/',
      vpcId: 'vpc-0123456789abcdef0',
      subnetIds: 'subnet-0aaa,subnet-0bbb',
      availabilityZones: 'eu-west-1a,eu-west-1b',
      instanceType: 'c6i.xlarge',
      destroyData: 'true',
    },
    mkdtempSync(path.join(tmpdir(), 'cdk-test-')),
  );
  json = Template.fromStack(stack).toJSON();
});

describe('fleet stack variants', () => {
  it('instance files from SSM: GetParameter on the slot parameters only', () => {
    const ssm = allPolicyStatements(json).filter(({ statement }) =>
      asList(statement.Action).some((a) => a.startsWith('ssm:')),
    );
    expect(ssm).toHaveLength(1);
    expect(asList(ssm[0]!.statement.Action)).toEqual(['ssm:GetParameter']);
    expect(asList(ssm[0]!.statement.Resource).map(renderIntrinsic)).toEqual([
      'arn:{AWS::Partition}:ssm:{AWS::Region}:{AWS::AccountId}:parameter/convoy/prod/customers/instance-*',
    ]);
    const lt = Object.values(json.Resources).find((r: any) => r.Type === 'AWS::EC2::LaunchTemplate') as any;
    expect(renderIntrinsic(lt.Properties.LaunchTemplateData.UserData['Fn::Base64'])).toContain(
      'aws ssm get-parameter --region "$REGION" --with-decryption --name "/convoy/prod/customers/instance-$SLOT"',
    );
  });

  it('no buckets or extra tables configured: no S3 data or table grants beyond the state tables', () => {
    for (const { statement } of allPolicyStatements(json)) {
      const resources = asList(statement.Resource).map(renderIntrinsic);
      if (asList(statement.Action).some((a) => a.startsWith('s3:'))) expect(statement.Sid).toBe('Artifact');
      for (const r of resources) expect(r).not.toContain(':table/');
    }
  });

  it('existing VPC by ids, no public IPs, x86 AMI, no VPC created', () => {
    expect(Object.values(json.Resources).some((r: any) => r.Type === 'AWS::EC2::VPC')).toBe(false);
    const asg = Object.values(json.Resources).find((r: any) => r.Type === 'AWS::AutoScaling::AutoScalingGroup') as any;
    expect(asg.Properties.VPCZoneIdentifier).toEqual(['subnet-0aaa', 'subnet-0bbb']);
    const lt = Object.values(json.Resources).find((r: any) => r.Type === 'AWS::EC2::LaunchTemplate') as any;
    expect(lt.Properties.LaunchTemplateData.NetworkInterfaces ?? []).not.toEqual(
      expect.arrayContaining([expect.objectContaining({ AssociatePublicIpAddress: true })]),
    );
    expect(Object.keys(json.Parameters).some((p) => p.includes('x8664'))).toBe(true);
  });

  it('destroyData: tables and queues go with the stack', () => {
    for (const r of Object.values(json.Resources) as any[]) {
      if (r.Type === 'AWS::DynamoDB::Table' || r.Type === 'AWS::SQS::Queue') expect(r.DeletionPolicy).toBe('Delete');
    }
  });
});
