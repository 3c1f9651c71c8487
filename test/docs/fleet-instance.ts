/**
 * A fleet instance's boot, as far as it concerns convoy: the `convoy-start` script the CDK's user
 * data installs (infra/cdk/user-data.ts, the text itself), run on this machine against the test's
 * local stack. Only what cannot run here is replaced: the absolute paths (/etc/convoy,
 * /usr/local/bin) point into a directory per instance, /opt/convoy at this checkout or at an
 * artifact built by docs/deploy.md's recipe (deploy-ops.test.ts), `convoy-slot` (IMDS + a
 * DynamoDB conditional write, covered by test/infra) answers the slot the test gives, and
 * `aws s3 cp` copies from a directory standing for the bucket of the instance files (the uploads
 * kind's customers files).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { renderUserData, type UserDataInput } from '../../infra/cdk/user-data.js';
import { REPO } from './doc-commands.js';
import type { Background, DocShell } from './doc-shell.js';

/** The heredoc `cat > /usr/local/bin/NAME <<'TAG' ... TAG` of the user data. */
export function userDataScript(userData: string, name: string, tag: string): string {
  const start = userData.indexOf(`cat > /usr/local/bin/${name} <<'${tag}'\n`);
  const end = userData.indexOf(`\n${tag}\n`, start);
  if (start < 0 || end < 0) throw new Error(`the user data no longer installs /usr/local/bin/${name} (heredoc ${tag})`);
  return userData.slice(userData.indexOf('\n', start) + 1, end + 1);
}

/**
 * `aws s3 cp` between a local directory and s3://bucket/key, the bucket being a folder under
 * $FAKE_S3: enough for deploy.md's upload of the instance files and convoy-start's download.
 */
export const AWS_STAND_IN = `#!/bin/bash
set -euo pipefail
[ "$1 $2" = "s3 cp" ] || { echo "aws stand-in: only 's3 cp' is supported, got: $*" >&2; exit 2; }
shift 2
args=(); include=(); recursive=0
while [ $# -gt 0 ]; do
  case "$1" in
    --region|--exclude) shift 2 ;;
    --include) include+=("$2"); shift 2 ;;
    --recursive) recursive=1; shift ;;
    *) args+=("$1"); shift ;;
  esac
done
src="\${args[0]}"; dst="\${args[1]}"
local_of() { echo "$FAKE_S3/\${1#s3://}"; }
if [ $recursive = 1 ]; then
  mkdir -p "$(local_of "$dst")"
  for f in "$src"/*; do
    b=$(basename "$f")
    for p in "\${include[@]}"; do [[ "$b" == $p ]] && cp "$f" "$(local_of "$dst")/$b"; done
  done
elif [[ "$src" == s3://* ]]; then
  [ -f "$(local_of "$src")" ] || { echo "fatal error: An error occurred (404) when calling the HeadObject operation: Key not found" >&2; exit 1; }
  cp "$(local_of "$src")" "$dst"
else
  mkdir -p "$(dirname "$(local_of "$dst")")"; cp "$src" "$(local_of "$dst")"
fi
`;

export interface InstanceOptions {
  input: Omit<UserDataInput, 'region' | 'artifactUri' | 'metaTable'>;
  /**
   * the directory standing for /opt/convoy, where user data step 2 unpacks the artifact
   * (default: this checkout, whose dist/ the suite built)
   */
  convoyDir?: string;
  /** the slot `convoy-slot claim` answers (undefined: no free slot) */
  slot?: number;
}

/** Start instance `name`'s convoy-start; returns the process (convoy worker, after its exec). */
export function startInstance(shell: DocShell, name: string, opts: InstanceOptions): Background {
  const userData = renderUserData({
    region: 'us-east-1',
    artifactUri: 's3://convoy-artifacts/convoy.tgz',
    metaTable: 'convoy-meta',
    ...opts.input,
  });
  const root = path.join(shell.dir, 'instances', name);
  const etc = path.join(root, 'etc/convoy');
  mkdirSync(etc, { recursive: true });
  const relocate = (script: string) =>
    script
      .replaceAll('/etc/convoy/', `${etc}/`)
      .replaceAll('/usr/local/bin/convoy-slot', path.join(root, 'convoy-slot'))
      .replaceAll('/opt/convoy/dist/', `${opts.convoyDir ?? REPO}/dist/`);
  // what user data step 3 writes: the config and the env file convoy-start sources
  writeFileSync(path.join(etc, 'convoy.config.json'), opts.input.configJson);
  writeFileSync(
    path.join(etc, 'env'),
    `REGION='us-east-1'\nMETA_TABLE='convoy-meta'\nFLEET='${opts.input.fleet}'\nINSTANCE_SLOTS='${opts.input.instanceSlots}'\nSLOT_LEASE_SEC='300'\nNODE_BIN='${process.execPath}'\n`,
  );
  writeFileSync(
    path.join(root, 'convoy-slot'),
    opts.slot === undefined ? '#!/bin/sh\nexit 1\n' : `#!/bin/sh\necho ${opts.slot}\n`,
    { mode: 0o755 },
  );
  const start = path.join(root, 'convoy-start');
  writeFileSync(start, relocate(userDataScript(userData, 'convoy-start', 'CONVOY_START')), { mode: 0o755 });
  return shell.start(start);
}
