/**
 * The boot script of a fleet instance (Amazon Linux 2023), as a pure function so it can be
 * read and tested without synthesizing a stack. Values may be CDK tokens (they resolve inside
 * the template).
 *
 * What it does, in order:
 *  1. installs Node 24 (the distribution's nodejs24 package: AL2023 ships Node 20, 22 and 24
 *     side by side, each as namespaced `node-<major>`; Node 20 is past its end of life) and the
 *     AWS CLI; convoy runs on `node-24` by name, so a later `alternatives` switch of the plain
 *     `node` cannot change the runtime under it;
 *  2. fetches the convoy artifact (a tarball of dist/, package.json and production
 *     node_modules, see docs/deploy.md) from S3 into /opt/convoy;
 *  3. writes /etc/convoy/convoy.config.json: the `state` section that names this stack's tables
 *     and queues (the same shape as shared/config.ts reads);
 *  4. installs `convoy-start` (claims an instance slot, fetches that slot's instance file from S3
 *     or SSM, then execs `convoy worker` with it), a systemd service running it, and a timer that
 *     renews the slot.
 *
 * Instance slots: a job kind may take a file of its own per instance (`KindPlugin.instanceFiles`:
 * the `convoy worker` option and what the file holds), written for N instances as
 * instance-1.json .. instance-N.json (the uploads kind's by `convoy distribute --instances N`).
 * Instances of an auto-scaling group are identical, so each one claims a free slot with a
 * conditional UpdateItem on the meta table (row pk `slot#<fleet>`, sk `instance-<k>`): free when
 * absent, when its lease (`expiresAtSec`, renewed every minute) ran out, or already ours. An
 * instance that finds no free slot runs without a file: it still works the shared queue, so
 * extra instances always help.
 */
import type { InstanceFiles } from '../../worker/job-kind.js';

export interface UserDataInput {
  region: string;
  /** s3://bucket/key of the artifact tarball */
  artifactUri: string;
  /** the JSON text of /etc/convoy/convoy.config.json */
  configJson: string;
  metaTable: string;
  fleet: string;
  /** s3://bucket/prefix or ssm:/path of the instance files; none when undefined */
  instanceFilesSource?: string;
  /** the file the job kinds take per instance, and the `convoy worker` option for it; needed with a source */
  instanceFiles?: InstanceFiles;
  /** number of instance slots (files instance-1 .. instance-N); 0 = none */
  instanceSlots: string;
  workerConcurrency: number;
  shutdownDeadlineSec: number;
  /** slot lease length; renewed every 60 s @defaultValue 300 */
  slotLeaseSec?: number;
}

/** Where an instance keeps its slot's file: /etc/convoy/<what it holds>.json. */
export function instanceFilePath(files: InstanceFiles): string {
  return `/etc/convoy/${files.describe}.json`;
}

/** The shell that fetches one slot's file (instance-$SLOT) from the source to `dest`. */
export function fetchInstanceFileCommand(source: string, dest: string): string {
  if (source.startsWith('ssm:')) {
    const base = source.slice('ssm:'.length).replace(/\/+$/, '');
    return `aws ssm get-parameter --region "$REGION" --with-decryption --name "${base}/instance-$SLOT" --query Parameter.Value --output text > ${dest}`;
  }
  const base = source.replace(/\/+$/, '');
  return `aws s3 cp --region "$REGION" "${base}/instance-$SLOT.json" ${dest}`;
}

/** The names go into a shell script unquoted: a plain option and a plain word only. */
function checkInstanceFiles(files: InstanceFiles): void {
  if (!/^--[a-z][a-z0-9-]*$/.test(files.workerOption) || !/^[a-z][a-z0-9-]*$/.test(files.describe))
    throw new Error(
      `instance files ${JSON.stringify(files)}: workerOption must be --lower-case-words and describe one lower-case word`,
    );
}

/** convoy-start's lines for a claimed slot: fetch its file and pass it, or say there is none. */
function slotFileLines(input: UserDataInput): string {
  const files = input.instanceFiles;
  if (!files || !input.instanceFilesSource)
    return `  echo "no instance files configured; working the shared queue only"`;
  checkInstanceFiles(files);
  const dest = instanceFilePath(files);
  return `  if ${fetchInstanceFileCommand(input.instanceFilesSource, dest)}; then
    ARGS+=(${files.workerOption} ${dest})
  else
    echo "no ${files.describe} file for slot $SLOT; working the shared queue only"
  fi`;
}

export function renderUserData(input: UserDataInput): string {
  const slotLeaseSec = input.slotLeaseSec ?? 300;
  const stopTimeoutSec = input.shutdownDeadlineSec + 15;
  return `#!/bin/bash
set -euo pipefail
exec > >(tee -a /var/log/convoy-bootstrap.log) 2>&1
echo "convoy bootstrap $(date -Is)"

# 1. Node 24 (AL2023's nodejs24, run as node-24 whatever \`node\` points to) and the AWS CLI
dnf install -y nodejs24 awscli-2 tar gzip
NODE_BIN=/usr/bin/node-24
"$NODE_BIN" --version
id convoy >/dev/null 2>&1 || useradd --system --home-dir /var/lib/convoy --create-home --shell /sbin/nologin convoy

# 2. the convoy artifact
mkdir -p /opt/convoy /etc/convoy
aws s3 cp --region '${input.region}' '${input.artifactUri}' /tmp/convoy.tgz
tar -xzf /tmp/convoy.tgz -C /opt/convoy
rm -f /tmp/convoy.tgz

# 3. the state section: this stack's tables and queues
cat > /etc/convoy/convoy.config.json <<'CONVOY_CONFIG'
${input.configJson}
CONVOY_CONFIG

cat > /etc/convoy/env <<CONVOY_ENV
REGION='${input.region}'
META_TABLE='${input.metaTable}'
FLEET='${input.fleet}'
INSTANCE_SLOTS='${input.instanceSlots}'
SLOT_LEASE_SEC='${slotLeaseSec}'
NODE_BIN='$NODE_BIN'
CONVOY_ENV

# 4a. instance slots: claim (or renew) one with a conditional write on the meta table
cat > /usr/local/bin/convoy-slot <<'CONVOY_SLOT'
#!/bin/bash
# usage: convoy-slot claim|renew   (prints the slot number on claim)
set -uo pipefail
. /etc/convoy/env
TOKEN=$(curl -sf -X PUT http://169.254.169.254/latest/api/token -H 'X-aws-ec2-metadata-token-ttl-seconds: 300')
ME=$(curl -sf -H "X-aws-ec2-metadata-token: $TOKEN" http://169.254.169.254/latest/meta-data/instance-id)
take() { # $1 = slot number; succeeds when the slot is free, expired, or ours
  local now exp
  now=$(date +%s); exp=$((now + SLOT_LEASE_SEC))
  aws dynamodb update-item --region "$REGION" --table-name "$META_TABLE" \\
    --key "{\\"pk\\":{\\"S\\":\\"slot#$FLEET\\"},\\"sk\\":{\\"S\\":\\"instance-$1\\"}}" \\
    --update-expression 'SET instanceId = :me, expiresAtSec = :exp' \\
    --condition-expression 'attribute_not_exists(pk) OR instanceId = :me OR expiresAtSec < :now' \\
    --expression-attribute-values "{\\":me\\":{\\"S\\":\\"$ME\\"},\\":exp\\":{\\"N\\":\\"$exp\\"},\\":now\\":{\\"N\\":\\"$now\\"}}" \\
    >/dev/null 2>&1
}
case "\${1:-claim}" in
  claim)
    [ "$INSTANCE_SLOTS" -gt 0 ] || exit 1
    if [ -s /etc/convoy/slot ] && take "$(cat /etc/convoy/slot)"; then cat /etc/convoy/slot; exit 0; fi
    for k in $(seq 1 "$INSTANCE_SLOTS"); do
      if take "$k"; then echo "$k" > /etc/convoy/slot; echo "$k"; exit 0; fi
    done
    exit 1 ;;
  renew)
    [ -s /etc/convoy/slot ] && take "$(cat /etc/convoy/slot)" ;;
esac
CONVOY_SLOT
chmod 755 /usr/local/bin/convoy-slot

# 4b. the launcher: slot -> the slot's instance file -> convoy worker
cat > /usr/local/bin/convoy-start <<'CONVOY_START'
#!/bin/bash
set -uo pipefail
. /etc/convoy/env
ARGS=(worker --processes auto --concurrency ${input.workerConcurrency} --shutdown-deadline-ms ${input.shutdownDeadlineSec * 1000})
if SLOT=$(/usr/local/bin/convoy-slot claim); then
  ARGS+=(--instance "$FLEET-instance-$SLOT")
${slotFileLines(input)}
else
  ARGS+=(--instance "$FLEET-extra-$(hostname -s)")
  echo "no free instance slot; working the shared queue only"
fi
exec "$NODE_BIN" /opt/convoy/dist/coordinator/cli/main.js --config /etc/convoy/convoy.config.json "\${ARGS[@]}"
CONVOY_START
chmod 755 /usr/local/bin/convoy-start
chown convoy /etc/convoy

cat > /etc/systemd/system/convoy-worker.service <<'CONVOY_UNIT'
[Unit]
Description=convoy worker
After=network-online.target
Wants=network-online.target

[Service]
User=convoy
WorkingDirectory=/var/lib/convoy
Environment=CONVOY_STATE_DIR=/var/lib/convoy/state
ExecStart=/usr/local/bin/convoy-start
Restart=always
RestartSec=5
# SIGTERM: stop receiving, finish or release in-flight items (graceful shutdown), then exit
KillSignal=SIGTERM
TimeoutStopSec=${stopTimeoutSec}
LimitNOFILE=65536

[Install]
WantedBy=multi-user.target
CONVOY_UNIT

cat > /etc/systemd/system/convoy-slot-renew.service <<'CONVOY_RENEW'
[Unit]
Description=renew this instance's convoy instance slot
[Service]
Type=oneshot
User=convoy
ExecStart=/usr/local/bin/convoy-slot renew
CONVOY_RENEW

cat > /etc/systemd/system/convoy-slot-renew.timer <<'CONVOY_TIMER'
[Unit]
Description=renew the convoy instance slot every minute
[Timer]
OnBootSec=60
OnUnitActiveSec=60
[Install]
WantedBy=timers.target
CONVOY_TIMER

systemctl daemon-reload
systemctl enable --now convoy-slot-renew.timer
systemctl enable --now convoy-worker.service
echo "convoy worker started"
`;
}
