/**
 * Every command the docs show (test/docs/doc-commands.ts extracts them), and what the docs suite
 * does with it: the test file that runs it, or why it does not run here. coverage.test.ts fails
 * when a doc shows a command missing from this list (decide: run it, or say why not) or when this
 * list names a command the doc no longer shows.
 */
import type { Doc } from './doc-commands.js';

export type Disposition = { run: string } | { skip: string };

const SYNTH = 'CDK synthesis is covered by test/infra (fleet-stack*.test.ts); offline, but slow';
const AWS_ACCOUNT =
  'needs a real AWS account (CloudFormation, Auto Scaling, CDK deploy); the template is checked by test/infra';
const TABLES =
  'covered end to end by test/tables (each kind via the real CLI, bad input, fleet); the doc shows placeholders (<run>, ..., remote hosts)';
const PLACEHOLDER = 'a placeholder in the doc ("..."), not a command';
const SELF = 'runs the test suite or the demo itself (CI runs npm test; the demos are test/demo)';

export const MANIFEST: Record<Doc, Record<string, Disposition>> = {
  'README.md': {
    'npm ci && npm run demo': { skip: SELF },
    'npm test': { skip: SELF },
    'npx convoy local up': { run: 'readme-s3.test.ts' },
    'npx convoy local up --extra-s3 minio': { run: 'readme-s3.test.ts' },
    'npx convoy local status': { run: 'readme-s3.test.ts' },
    'npx convoy local down': { run: 'readme-s3.test.ts' },
    'convoy plan s3-sync --from minio:rideshare-{} --to aws:rideshare-123456789012-{} --buckets bronze silver gold checkpoints --create-buckets --dry-run':
      { run: 'readme-s3.test.ts' },
    'convoy plan s3-sync --from minio:rideshare-{} --to aws:rideshare-123456789012-{} --buckets bronze silver gold checkpoints --create-buckets --run lakehouse-1':
      { run: 'readme-s3.test.ts' },
    'convoy worker --concurrency 8 --transfers 64': { run: 'readme-s3.test.ts' },
    'convoy status --run lakehouse-1': { run: 'readme-s3.test.ts' },
    'convoy verify --run lakehouse-1': { run: 'readme-s3.test.ts' },
    'convoy plan s3-sync --from aws:dev-raw --to aws:prod-raw --exclude "*.json" --exclude "*.ndjson" --exclude "*/delta/*"':
      { run: 'readme-s3.test.ts' },
    'convoy plan s3-sync --from aws:dev-chroma --to aws:prod-chroma --latest-prefix snapshots/lines snapshots/words': {
      run: 'readme-s3.test.ts',
    },
    'convoy plan s3-sync --from aws:rideshare-123456789012-{} --to minio:rideshare-{} --buckets bronze silver gold checkpoints':
      { run: 'readme-s3.test.ts' },
    'convoy plan s3-sync --from minio:rideshare-{} --to aws:rideshare-123456789012-{} --buckets bronze silver gold checkpoints --delete --dry-run':
      { run: 'readme-s3.test.ts' },
    'convoy plan s3-sync --from minio:rideshare-{} --to aws:rideshare-123456789012-{} --buckets bronze silver gold checkpoints --delete --run lakehouse-2':
      { run: 'readme-s3.test.ts' },
    'convoy verify --run lakehouse-1 --allow-extra': { run: 'readme-s3.test.ts' },
    'convoy plan s3-sync --from minio:rideshare-{} --to aws:rideshare-copy-{} --buckets bronze silver gold checkpoints --create-buckets --work':
      { run: 'readme-s3.test.ts' },
    'convoy plan s3-sync --from minio:rideshare-{} --to aws:rideshare-123456789012-{} --buckets bronze silver gold checkpoints --run lakehouse-3 --max-attempts 8 --backoff-base-ms 1000 --backoff-cap-ms 60000':
      { run: 'readme-s3.test.ts' },
    'convoy status --run lakehouse-3': { run: 'readme-s3.test.ts' },
  },
  'docs/s3-properties.md': {
    'convoy plan s3-sync --from minio:rideshare-{} --to aws:rideshare-123456789012-{} --buckets gold --storage-class GLACIER_IR --sse aws:kms --sse-kms-key-id alias/rideshare-archive --acl bucket-owner-full-control --run archive-1':
      { run: '../s3-sync/properties.test.ts' },
    'convoy status --run archive-1': { run: '../s3-sync/properties.test.ts' },
  },
  'docs/uploads.md': {
    'npm run build': { skip: 'the build (tsc and the CLI bundle); the suite runs on dist/ built by `npm test`' },
    'npm run demo': { skip: SELF },
    'convoy local up': { run: 'uploads-md.test.ts' },
    'convoy local seed uploads --customers 5 --spaces 20 --uploads 500': { run: 'uploads-md.test.ts' },
    'convoy plan uploads --dry-run --run dry && convoy worker --exit-when-idle 2000 && convoy verify --run dry': {
      run: 'uploads-md.test.ts',
    },
    'convoy plan uploads --run r1': { run: 'uploads-md.test.ts' },
    'convoy worker --concurrency 64 & convoy worker --concurrency 64 &': { run: 'uploads-md.test.ts' },
    'convoy monitor --run r1 --watch': { run: 'uploads-md.test.ts' },
    'convoy verify --run r1': { run: 'uploads-md.test.ts' },
    'convoy plan uploads --run r2 --work': { run: 'uploads-md.test.ts' },
  },
  'docs/deploy.md': {
    'npm ci && npm run build': { skip: SELF },
    'npm run synth -- -c readBuckets=carpark-prod -c writeBuckets=index-prod -c instanceFilesSource=s3://convoy-config/customers -c maxInstances=20':
      { skip: SYNTH },
    'rm -rf /tmp/convoy-artifact && mkdir /tmp/convoy-artifact': { run: 'deploy-ops.test.ts' },
    'cp -r dist package.json package-lock.json /tmp/convoy-artifact/': { run: 'deploy-ops.test.ts' },
    '(cd /tmp/convoy-artifact && npm ci --omit=dev --ignore-scripts)': { run: 'deploy-ops.test.ts' },
    'tar -czf convoy-0.1.0.tgz -C /tmp/convoy-artifact .': { run: 'deploy-ops.test.ts' },
    'aws s3 cp convoy-0.1.0.tgz s3://convoy-artifacts/convoy-0.1.0.tgz': { run: 'deploy-ops.test.ts' },
    'npx aws-cdk@2 deploy --app "node dist/infra/cdk/app.js" -c readBuckets=carpark-prod -c writeBuckets=index-prod -c instanceFilesSource=s3://convoy-config/customers --parameters ArtifactUri=s3://convoy-artifacts/convoy-0.1.0.tgz --parameters InstanceSlots=0':
      { skip: AWS_ACCOUNT },
    'aws cloudformation deploy --stack-name convoy-fleet --capabilities CAPABILITY_IAM --template-file infra/cdk.out/convoy-fleet.template.json --parameter-overrides ArtifactUri=s3://convoy-artifacts/convoy-0.1.0.tgz InstanceSlots=0':
      { skip: AWS_ACCOUNT },
    'aws cloudformation describe-stacks --stack-name convoy-fleet --query "Stacks[0].Outputs[?OutputKey==\'ConvoyConfig\'].OutputValue" --output text > convoy.config.json':
      {
        skip: `${AWS_ACCOUNT}; the tests write the same shape (state + remotes) for their local stack`,
      },
    'convoy --config convoy.config.json distribute --instances 8 --min-uploads 1000 --out customers': {
      run: 'deploy-fleet.test.ts',
    },
    'aws s3 cp customers s3://convoy-config/customers/ --recursive --exclude "*" --include "instance-*.json"': {
      run: 'deploy-fleet.test.ts',
    },
    'aws cloudformation deploy ... --parameter-overrides InstanceSlots=8': { skip: AWS_ACCOUNT },
    'aws autoscaling set-desired-capacity --auto-scaling-group-name <AutoScalingGroupName> --desired-capacity 8': {
      skip: AWS_ACCOUNT,
    },
    'convoy --config convoy.config.json plan s3-sync --from aws:bronze-src --to aws:bronze-dst --run bronze-1': {
      run: 'deploy-ops.test.ts',
    },
    'convoy --config convoy.config.json plan dynamodb-copy ...': { skip: PLACEHOLDER },
    'aws autoscaling set-desired-capacity --auto-scaling-group-name <name> --desired-capacity 20': {
      skip: AWS_ACCOUNT,
    },
    'aws autoscaling update-auto-scaling-group --auto-scaling-group-name <name> --max-size 40': { skip: AWS_ACCOUNT },
    'convoy --config convoy.config.json monitor --run bronze-1': { run: 'deploy-ops.test.ts' },
    'convoy --config convoy.config.json monitor --run bronze-1 --watch': {
      skip: 'the dashboard needs a terminal: test/monitor/dashboard-tmux.test.ts; the non-terminal form runs in uploads-md.test.ts',
    },
    'convoy --config convoy.config.json monitor --instance': { run: 'deploy-ops.test.ts' },
    'convoy --config convoy.config.json monitor --failed --class THROTTLED': { run: 'deploy-ops.test.ts' },
    'convoy --config convoy.config.json monitor --stuck': { run: 'deploy-ops.test.ts' },
    'convoy --config convoy.config.json serve --port 8080': {
      skip: 'a fixed port on a shared CI machine; the API is tested over a socket in test/monitor/views-api.test.ts',
    },
    'convoy --config convoy.config.json status --run bronze-1': { run: 'deploy-ops.test.ts' },
    'convoy --config convoy.config.json monitor --failed --run bronze-1': { run: 'deploy-ops.test.ts' },
    'convoy --config convoy.config.json requeue --run bronze-1 --class ACCESS_DENIED': { run: 'deploy-ops.test.ts' },
    "convoy --config convoy.config.json requeue --run bronze-1 --item 'range:bronze:a..f'": {
      run: 'deploy-ops.test.ts',
    },
    'convoy --config convoy.config.json reconcile --run bronze-1 --grace-ms 600000': { run: 'deploy-ops.test.ts' },
    'convoy --config convoy.config.json verify --run bronze-1': { run: 'deploy-ops.test.ts' },
    'convoy --config convoy.config.json pause --run bronze-1': { run: 'deploy-ops.test.ts' },
    'convoy --config convoy.config.json resume --run bronze-1': { run: 'deploy-ops.test.ts' },
    'convoy --config convoy.config.json cancel --run bronze-1': { run: 'deploy-ops.test.ts' },
    'aws autoscaling set-desired-capacity --auto-scaling-group-name <name> --desired-capacity 0': { skip: AWS_ACCOUNT },
    'npx aws-cdk@2 destroy --app "node dist/infra/cdk/app.js"': { skip: AWS_ACCOUNT },
  },
  'docs/tables.md': {
    'convoy plan dynamodb-copy --from local:dev-table --to local:prod-table': { skip: TABLES },
    'convoy plan dynamodb-copy --from dev:receipts-dev --to prod:receipts-prod --rewrite dev-raw-bucket=prod-raw-bucket --rewrite dev-cdn-bucket=prod-cdn-bucket --drop debugInfo --rename oldName=newName --ttl ttl:keep --segments 64 --max-wcu 2000 --dry-run':
      { skip: TABLES },
    'convoy worker': { skip: TABLES },
    'convoy verify --run <run>': { skip: TABLES },
    'convoy plan pg-to-dynamodb --from postgres://app@db:5432/visiondrive --table parking_events --key timestamp --updated-column updated_at --to prod:VisionDrive-Parking --mapping examples/parking/events.mapping.json --ranges 64':
      { skip: TABLES },
    'convoy plan pg-to-dynamodb ... --since <previous-run-id>': { skip: PLACEHOLDER },
    'createdb parking && node examples/parking/seed.mjs --db postgres://postgres@127.0.0.1/parking': { skip: TABLES },
    'aws dynamodb create-table ...': { skip: PLACEHOLDER },
    'for t in zones bays sensors; do': { skip: TABLES },
    'convoy plan pg-to-dynamodb --from postgres://postgres@127.0.0.1/parking --table parking_$t --key $( [ $t = sensors ] && echo install_date || ([ $t = zones ] && echo created_at || echo bay_number) ) --to local:parking --mapping examples/parking/$t.mapping.json --ranges 2':
      { skip: TABLES },
    done: { skip: TABLES },
    'convoy plan pg-to-dynamodb --from postgres://postgres@127.0.0.1/parking --table parking_events --key timestamp --updated-column updated_at --to local:parking --mapping examples/parking/events.mapping.json':
      { skip: TABLES },
    'convoy plan pg-to-s3 --from postgres://app@db/spice --table events --time-column created_at --order aggregate_id sequence --partition 1h --to local:spice-event-store/events':
      { skip: TABLES },
    'convoy replay --run <run> --from 2024-11-01T00:00:00Z --to 2024-11-14T00:00:00Z > events.ndjson': { skip: TABLES },
  },
  // its blocks are synopses (`[--run R]`), not ```bash: the commands they describe run in
  // deploy-ops.test.ts (section 7) and uploads-md.test.ts (--watch)
  'docs/monitor.md': {},
  // run by `npm run test:compat` (it needs Java and Ceph), not by `npm test`
  'docs/compat.md': {
    'npx convoy local up --backend aws-local --extra-s3 minio': { run: '../compat/aws-local.test.ts' },
    'npx convoy local status': { run: '../compat/aws-local.test.ts' },
    'npx convoy local down': { run: '../compat/aws-local.test.ts' },
    'npm run test:compat': { skip: SELF },
    'convoy plan s3-sync --from minio:contracts --to local:contracts-copy --all-versions --delete --create-buckets': {
      run: '../s3-sync/versions.test.ts',
    },
    'convoy plan s3-sync --from minio:contracts --to local:contracts-copy --all-versions --delete --create-buckets --dry-run':
      { run: '../s3-sync/versions.test.ts' },
  },
  'docs/operations.md': Object.fromEntries(
    [
      'convoy plan s3-sync --from local:photos --to local:photos-copy --run photos-1 --tpslimit 5 --max-failed 2%',
      'convoy worker --concurrency 8',
      'convoy tune --run photos-1 --tpslimit 200 --concurrency 16',
      'convoy tune --run photos-1 --bwlimit 50MiB --max-failed 500',
      'convoy tune --run photos-1 --tpslimit off',
      'convoy status --run photos-1',
      'convoy report --run photos-1 --failed-only',
      'convoy report --run photos-1 --format ndjson --gzip --out photos-1.ndjson.gz',
      'convoy report --run photos-1 --gzip --out s3://reports/photos-1.csv.gz --remote local',
    ].map((text) => [text, { run: 'operations-md.test.ts' }]),
  ),
};
