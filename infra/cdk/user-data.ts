/**
 * The boot script of a fleet instance (Amazon Linux 2023), as a pure function so it can be
 * read and tested without synthesizing a stack. Values may be CDK tokens (they resolve inside
 * the template).
 *
 * What it does, in order:
 *  1. installs Node 20 (the distribution's nodejs20 package) and the AWS CLI;
 *  2. fetches the convoy artifact (a tarball of dist/, package.json and production
 *     node_modules, see docs/deploy.md) from S3 into /opt/convoy;
 *  3. writes /etc/convoy/convoy.config.json: the `state` section that names this stack's tables
 *     and queues (the same shape as shared/config.ts reads);
 *  4. installs `convoy-start` (claims a customer slot, fetches that slot's customers file from S3
 *     or SSM, then execs `convoy worker`), a systemd service running it, and a timer that renews
 *     the slot.
 *
 * Customer slots: `convoy distribute --instances N` writes instance-1.json .. instance-N.json.
 * Instances of an auto-scaling group are identical, so each one claims a free slot with a
 * conditional UpdateItem on the meta table (row pk `slot#<fleet>`, sk `instance-<k>`): free when
 * absent, when its lease (`expiresAtSec`, renewed every minute) ran out, or already ours. An
 * instance that finds no free slot runs without a customers file: it still works the shared
 * queue, so extra instances always help.
 */

export interface UserDataInput {
  region: string;
  /** s3://bucket/key of the artifact tarball */
  artifactUri: string;
  /** the JSON text of /etc/convoy/convoy.config.json */
  configJson: string;
  metaTable: string;
  fleet: string;
  /** s3://bucket/prefix or ssm:/path; no customers files when undefined */
  customersSource?: string;
  /** number of customer slots (files instance-1 .. instance-N); 0 = none */
  customerSlots: string;
  workerConcurrency: number;
  shutdownDeadlineSec: number;
  /** slot lease length; renewed every 60 s @defaultValue 300 */
  slotLeaseSec?: number;
}

/** The shell that fetches one slot's customers file to /etc/convoy/customers.json. */
export function fetchCustomersCommand(source: string): string {
  if (source.startsWith('ssm:')) {
    const base = source.slice('ssm:'.length).replace(/\/+$/, '');
    return `aws ssm get-parameter --region "$REGION" --with-decryption --name "${base}/instance-$SLOT" --query Parameter.Value --output text > /etc/convoy/customers.json`;
  }
  const base = source.replace(/\/+$/, '');
  return `aws s3 cp --region "$REGION" "${base}/instance-$SLOT.json" /etc/convoy/customers.json`;
}

export function renderUserData(input: UserDataInput): string {
  const slotLeaseSec = input.slotLeaseSec ?? 300;
  const fetchCustomers = input.customersSource ? fetchCustomersCommand(input.customersSource) : 'false';
  const stopTimeoutSec = input.shutdownDeadlineSec + 15;
  return `#!/bin/bash
set -euo pipefail
exec > >(tee -a /var/log/convoy-bootstrap.log) 2>&1
echo "convoy bootstrap $(date -Is)"

# 1. Node 20 and the AWS CLI
dnf install -y nodejs20 awscli-2 tar gzip
NODE_BIN="$(command -v node-20 || command -v node)"
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
CUSTOMER_SLOTS='${input.customerSlots}'
SLOT_LEASE_SEC='${slotLeaseSec}'
NODE_BIN='$NODE_BIN'
CONVOY_ENV

# 4a. customer slots: claim (or renew) one with a conditional write on the meta table
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
    [ "$CUSTOMER_SLOTS" -gt 0 ] || exit 1
    if [ -s /etc/convoy/slot ] && take "$(cat /etc/convoy/slot)"; then cat /etc/convoy/slot; exit 0; fi
    for k in $(seq 1 "$CUSTOMER_SLOTS"); do
      if take "$k"; then echo "$k" > /etc/convoy/slot; echo "$k"; exit 0; fi
    done
    exit 1 ;;
  renew)
    [ -s /etc/convoy/slot ] && take "$(cat /etc/convoy/slot)" ;;
esac
CONVOY_SLOT
chmod 755 /usr/local/bin/convoy-slot

# 4b. the launcher: slot -> customers file -> convoy worker
cat > /usr/local/bin/convoy-start <<'CONVOY_START'
#!/bin/bash
set -uo pipefail
. /etc/convoy/env
ARGS=(worker --concurrency ${input.workerConcurrency} --shutdown-deadline-ms ${input.shutdownDeadlineSec * 1000})
if SLOT=$(/usr/local/bin/convoy-slot claim); then
  ARGS+=(--instance "$FLEET-instance-$SLOT")
  if ${fetchCustomers}; then
    ARGS+=(--customers-file /etc/convoy/customers.json)
  else
    echo "no customers file for slot $SLOT; working the shared queue only"
  fi
else
  ARGS+=(--instance "$FLEET-extra-$(hostname -s)")
  echo "no free customer slot; working the shared queue only"
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
Description=renew this instance's convoy customer slot
[Service]
Type=oneshot
User=convoy
ExecStart=/usr/local/bin/convoy-slot renew
CONVOY_RENEW

cat > /etc/systemd/system/convoy-slot-renew.timer <<'CONVOY_TIMER'
[Unit]
Description=renew the convoy customer slot every minute
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
