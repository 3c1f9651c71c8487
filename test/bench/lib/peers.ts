/**
 * The peers convoy is compared with: rclone (1.60) and aws-cli (2.9), both from Debian, plus GNU
 * time for the measurements. Installed with apt-get when missing (the benchmark runs as root),
 * and configured with temporary files only: a user's ~/.config/rclone and ~/.aws are never read.
 *
 * This machine sets AWS_CA_BUNDLE, which breaks rclone; the emulators speak plain HTTP, so every
 * peer runs with it removed from the environment.
 */
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { GNU_TIME, runQuiet } from './command.js';

/** An S3 endpoint as the peers see it. */
export interface PeerRemote {
  name: string;
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
}

/** Debian's aws-cli; the pyenv shim some machines put first on PATH is a different (1.x) CLI. */
export const DEBIAN_AWS = '/usr/bin/aws';

function onPath(cmd: string): boolean {
  return (process.env.PATH ?? '').split(':').some((dir) => dir && existsSync(path.join(dir, cmd)));
}

export interface PeerTools {
  rclone: string;
  aws: string;
  rcloneVersion: string;
  awsVersion: string;
  /** what was installed, for the report */
  installed: string[];
}

/**
 * Make sure rclone, aws-cli and GNU time are installed; installs the Debian packages when not.
 * `say` reports every action (the benchmark prints what it did).
 */
export async function ensurePeers(say: (line: string) => void): Promise<PeerTools> {
  const missing: string[] = [];
  if (!onPath('rclone')) missing.push('rclone');
  if (!existsSync(DEBIAN_AWS)) missing.push('awscli');
  if (!existsSync(GNU_TIME)) missing.push('time');
  const installed: string[] = [];
  if (missing.length) {
    if (process.getuid?.() !== 0) {
      throw new Error(
        `missing ${missing.join(', ')}; install them with \`sudo apt-get install -y ${missing.join(' ')}\` and run again`,
      );
    }
    say(`installing Debian packages: ${missing.join(' ')} (apt-get update && apt-get install -y ${missing.join(' ')})`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    await runQuiet(['apt-get', 'update', '-q'], { env });
    await runQuiet(['apt-get', 'install', '-y', '-q', '--no-install-recommends', ...missing], { env });
    installed.push(...missing);
    say(`installed ${missing.join(', ')}`);
  } else {
    say('rclone, aws-cli (Debian) and GNU time are already installed; nothing to install');
  }
  const rclone = 'rclone';
  const aws = existsSync(DEBIAN_AWS) ? DEBIAN_AWS : 'aws';
  const env = peerEnv();
  const rcloneVersion = (await runQuiet([rclone, 'version'], { env })).split('\n')[0]!.trim();
  const awsVersion = (await runQuiet([aws, '--version'], { env })).trim().split(/\s+/)[0] ?? 'unknown';
  return { rclone, aws, rcloneVersion, awsVersion, installed };
}

/** The environment every peer runs with (no AWS_CA_BUNDLE; no ambient AWS profile or keys). */
export function peerEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of [
    'AWS_CA_BUNDLE',
    'AWS_PROFILE',
    'AWS_DEFAULT_PROFILE',
    'AWS_ACCESS_KEY_ID',
    'AWS_SECRET_ACCESS_KEY',
    'AWS_SESSION_TOKEN',
    'RCLONE_CONFIG',
  ]) {
    delete env[k];
  }
  return { ...env, ...extra };
}

/** rclone.conf text: one `provider = Other` s3 remote per endpoint, path style. */
export function renderRcloneConfig(remotes: PeerRemote[]): string {
  return remotes
    .map((r) =>
      [
        `[${r.name}]`,
        'type = s3',
        'provider = Other',
        'env_auth = false',
        `access_key_id = ${r.accessKeyId}`,
        `secret_access_key = ${r.secretAccessKey}`,
        `region = ${r.region}`,
        `endpoint = ${r.endpoint}`,
        'force_path_style = true',
        '',
      ].join('\n'),
    )
    .join('\n');
}

/**
 * aws-cli config and credentials: path-style addressing (the emulators need it) and the dummy
 * keys. Endpoints are given per command with --endpoint-url.
 */
export function renderAwsConfig(region: string): string {
  return ['[default]', `region = ${region}`, 's3 =', '  addressing_style = path', ''].join('\n');
}

export function renderAwsCredentials(r: Pick<PeerRemote, 'accessKeyId' | 'secretAccessKey'>): string {
  return ['[default]', `aws_access_key_id = ${r.accessKeyId}`, `aws_secret_access_key = ${r.secretAccessKey}`, ''].join(
    '\n',
  );
}

export interface PeerConfigFiles {
  rcloneConfig: string;
  awsConfig: string;
  awsCredentials: string;
}

/** Write the temporary config files (mode 0600: they hold keys, even if dummy ones). */
export function writePeerConfigs(dir: string, remotes: PeerRemote[]): PeerConfigFiles {
  const files = {
    rcloneConfig: path.join(dir, 'rclone.conf'),
    awsConfig: path.join(dir, 'aws-config'),
    awsCredentials: path.join(dir, 'aws-credentials'),
  };
  writeFileSync(files.rcloneConfig, renderRcloneConfig(remotes), { mode: 0o600 });
  writeFileSync(files.awsConfig, renderAwsConfig(remotes[0]?.region ?? 'us-east-1'), { mode: 0o600 });
  writeFileSync(files.awsCredentials, renderAwsCredentials(remotes[0]!), { mode: 0o600 });
  return files;
}

export function awsEnv(files: PeerConfigFiles): NodeJS.ProcessEnv {
  return peerEnv({
    AWS_CONFIG_FILE: files.awsConfig,
    AWS_SHARED_CREDENTIALS_FILE: files.awsCredentials,
    AWS_PAGER: '',
  });
}

/** `rclone copy src dst --transfers N`, quiet, with the temporary config. */
export function rcloneCopyArgv(
  tools: PeerTools,
  files: PeerConfigFiles,
  src: string,
  dst: string,
  transfers: number,
): string[] {
  return [tools.rclone, '--config', files.rcloneConfig, 'copy', src, dst, '--transfers', String(transfers), '-q'];
}

/** `aws s3 sync src dst` against one endpoint (aws-cli takes a single --endpoint-url per command). */
export function awsSyncArgv(tools: PeerTools, endpoint: string, src: string, dst: string): string[] {
  return [tools.aws, 's3', 'sync', src, dst, '--endpoint-url', endpoint, '--only-show-errors', '--no-progress'];
}
