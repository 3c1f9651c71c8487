/**
 * Configuration: a bad file or remote is an InputError that names the file or remote, what is
 * wrong and how to fix it; `remote:bucket/prefix` parsing.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  assertStateReachable,
  getRemote,
  loadConfig,
  parseRemotePath,
  readStackFile,
  STACK_FILE,
} from '../../shared/config.js';
import { InputError } from '../../shared/errors.js';

const dir = mkdtempSync(path.join(tmpdir(), 'convoy-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const emptyStateDir = path.join(dir, 'no-stack');

function writeConfig(name: string, content: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, content);
  return file;
}

function inputError(fn: () => unknown): InputError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(InputError);
    return err as InputError;
  }
  throw new Error('expected an InputError');
}

const load = (configPath?: string, extra: Parameters<typeof loadConfig>[0] = {}) =>
  loadConfig({ configPath, stateDir: emptyStateDir, env: {}, ...extra });

describe('loadConfig', () => {
  it('a valid file: remotes with defaults, state from the file (not the local stack)', () => {
    const file = writeConfig(
      'ok.json',
      JSON.stringify({
        state: { region: 'eu-west-1', itemsTable: 'my-items' },
        remotes: {
          minio: { endpoint: 'http://127.0.0.1:9000', accessKeyId: 'k', secretAccessKey: 's' },
          aws: { profile: 'prod' },
        },
      }),
    );
    const c = load(file);
    expect(c.localStack).toBe(false);
    expect(c.state).toMatchObject({
      region: 'eu-west-1',
      itemsTable: 'my-items',
      metaTable: 'convoy-meta',
      queueName: 'convoy-work',
    });
    expect(getRemote(c, 'minio')).toMatchObject({
      name: 'minio',
      region: 'us-east-1',
      endpoint: 'http://127.0.0.1:9000',
    });
    expect(getRemote(c, 'aws')).toMatchObject({ name: 'aws', profile: 'prod' });
  });

  it('malformed JSON: names the file and says to fix it', () => {
    const file = writeConfig('broken.json', '{ "remotes": { "minio": ');
    const e = inputError(() => load(file));
    expect(e.message).toContain(file);
    expect(e.message).toMatch(/not valid JSON/);
    expect(e.message).toMatch(/fix the file/);
  });

  it('unknown keys are rejected with their path (typos do not pass silently)', () => {
    const top = inputError(() => load(writeConfig('unknown-top.json', JSON.stringify({ remote: {} }))));
    expect(top.message).toContain('unknown-top.json');
    expect(top.message).toMatch(/remote/);
    const inRemote = inputError(() =>
      load(writeConfig('unknown-remote-key.json', JSON.stringify({ remotes: { minio: { endpont: 'http://x' } } }))),
    );
    expect(inRemote.message).toMatch(/remotes\.minio/);
    expect(inRemote.message).toMatch(/endpont/);
    const inState = inputError(() =>
      load(writeConfig('unknown-state-key.json', JSON.stringify({ state: { itemTable: 'x' } }))),
    );
    expect(inState.message).toMatch(/itemTable/);
  });

  it('a bad remote: not a URL, half a key pair, a bad name', () => {
    const url = inputError(() =>
      load(writeConfig('bad-url.json', JSON.stringify({ remotes: { minio: { endpoint: 'not a url' } } }))),
    );
    expect(url.message).toMatch(/remotes\.minio\.endpoint/);
    const half = inputError(() =>
      load(writeConfig('half.json', JSON.stringify({ remotes: { minio: { accessKeyId: 'k' } } }))),
    );
    expect(half.message).toMatch(/accessKeyId and secretAccessKey/);
    const name = inputError(() => load(writeConfig('bad-name.json', JSON.stringify({ remotes: { 'my remote': {} } }))));
    expect(name.message).toMatch(/letters, digits/);
    const opt = inputError(() => load(undefined, { remotes: { extra: { endpoint: 'ftp//nope' } } }));
    expect(opt.message).toMatch(/remote "extra"/);
  });

  it('an explicit config path that does not exist names it', () => {
    const missing = path.join(dir, 'missing.json');
    const e = inputError(() => load(missing));
    expect(e.message).toContain(missing);
    expect(e.message).toMatch(/does not exist/);
    const viaEnv = inputError(() => loadConfig({ stateDir: emptyStateDir, env: { CONVOY_CONFIG: missing } }));
    expect(viaEnv.message).toContain(missing);
  });

  it('no config and no local stack: usable until state is needed, then a message naming `convoy local up`', () => {
    const c = load(undefined, { configPath: path.join(dir, 'ok.json') });
    expect(() => assertStateReachable(c)).not.toThrow();
    const bare = loadConfig({ stateDir: emptyStateDir, env: {}, configPath: writeConfig('empty.json', '{}') });
    expect(bare.localStack).toBe(true);
    const e = inputError(() => assertStateReachable(bare));
    expect(e.message).toContain('convoy local up');
    expect(e.message).toContain(emptyStateDir);
  });

  it('a damaged stack file names itself and the fix', () => {
    const stateDir = path.join(dir, 'damaged');
    rmSync(stateDir, { recursive: true, force: true });
    mkdirSync(stateDir, { recursive: true });
    writeFileSync(path.join(stateDir, STACK_FILE), JSON.stringify({ pid: 'x' }));
    const e = inputError(() => readStackFile(stateDir));
    expect(e.message).toContain(STACK_FILE);
    expect(e.message).toContain('convoy local up');
  });

  it('getRemote on an unknown name lists the known ones and where to add it', () => {
    const c = load(writeConfig('one.json', JSON.stringify({ remotes: { minio: {} } })));
    const e = inputError(() => getRemote(c, 'aws'));
    expect(e.message).toContain('"aws"');
    expect(e.message).toContain('minio');
    expect(e.message).toContain('one.json');
  });
});

describe('parseRemotePath', () => {
  it('remote:bucket, remote:bucket/prefix, nested prefixes', () => {
    expect(parseRemotePath('minio:rideshare-bronze', '--from')).toEqual({
      remote: 'minio',
      bucket: 'rideshare-bronze',
      prefix: '',
    });
    expect(parseRemotePath('aws:b/raw/2024/', '--to')).toEqual({ remote: 'aws', bucket: 'b', prefix: 'raw/2024/' });
    expect(parseRemotePath('my_remote-2:b/', '--to')).toEqual({ remote: 'my_remote-2', bucket: 'b', prefix: '' });
  });

  it('malformed: names the option, the value and the expected form', () => {
    for (const bad of ['rideshare-bronze', 'minio:', ':bucket', 'minio:/prefix', 'bad name:b', '']) {
      const e = inputError(() => parseRemotePath(bad, '--from'));
      expect(e.message).toContain('--from');
      expect(e.message).toContain(`"${bad}"`);
      expect(e.message).toContain('remote:bucket');
    }
  });
});
