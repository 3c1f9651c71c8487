/**
 * Bad operator input, through the real CLI: every case exits 2 with a message naming the input
 * and the fix, no stack trace, and nothing written (no run row, no file outside the reports
 * folder).
 */
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { listRuns } from '../../state/runs.js';
import { runCli } from '../helpers/cli.js';
import { operatorFixture, seedRun } from './fixture.js';

const fx = operatorFixture();
const NO_STACK_TRACE = /\n\s+at /;

function expectBadInput(r: { code: number | null; stderr: string }, ...mentions: Array<string | RegExp>): void {
  expect(r.code, r.stderr).toBe(2);
  for (const m of mentions) expect(r.stderr).toMatch(m);
  expect(r.stderr).not.toMatch(NO_STACK_TRACE);
  expect(r.stderr).not.toMatch(/ValidationException|TypeError|RangeError/);
}

describe('run ids', () => {
  it('an empty or 3,000-character --run on plan, status and a kind whose option has no parser: exit 2, no run written', async () => {
    const plan = ['plan', 's3-sync', '--from', 'local:src-bucket', '--to', 'local:dst-bucket'];
    expectBadInput(await runCli([...plan, '--run', ''], { config: fx.config }), /--run/, /1 to 128 characters/);
    expectBadInput(
      await runCli([...plan, '--run', 'x'.repeat(3000)], { config: fx.config }),
      /--run/,
      /3000 characters/,
    );
    expectBadInput(await runCli(['status', '--run', 'a/b'], { config: fx.config }), /--run/);
    // pg-to-s3 declares its --run without the parser: the check in the shared config code holds it
    const pg = [
      'plan',
      'pg-to-s3',
      '--from',
      'postgres://127.0.0.1:1/x',
      '--table',
      't',
      '--time-column',
      'ts',
      '--to',
      'local:bucket/p',
    ];
    expectBadInput(await runCli([...pg, '--run', ''], { config: fx.config }), /--run/, /1 to 128 characters/);
    expect(await listRuns(fx.env.ctx.meta)).toEqual([]);
  });

  it('verify --run ../../x: exit 2, and no report written outside the reports folder', async () => {
    // a run with that id exists (made before ids were checked): verify must still not write outside
    await seedRun(fx.env, '../../x', {});
    const stateDir = mkdtempSync(path.join(tmpdir(), 'convoy-verify-'));
    const r = await runCli(['--state-dir', path.join(stateDir, 'a', 'b'), 'verify', '--run', '../../x'], {
      config: fx.config,
    });
    expectBadInput(r, /--run/, /"\.\.\/\.\.\/x"/);
    expect(readdirSync(stateDir)).toEqual([]);
  });
});

describe('option values', () => {
  it('--log-level verbose: exit 2 naming the allowed levels', async () => {
    expectBadInput(
      await runCli(['--log-level', 'verbose', 'status'], { config: fx.config }),
      /--log-level "verbose"/,
      /warn, info, debug/,
    );
    expectBadInput(
      await runCli(['status'], { config: fx.config, env: { CONVOY_LOG_LEVEL: 'verbose' } }),
      /CONVOY_LOG_LEVEL "verbose"/,
    );
  });

  it('integer flags given words: commander names the option, exit 2', async () => {
    const sync = await runCli(
      ['plan', 's3-sync', '--from', 'local:src-bucket', '--to', 'local:dst-bucket', '--range-keys', 'abc'],
      { config: fx.config },
    );
    expectBadInput(sync, "error: option '--range-keys <n>' argument 'abc' is invalid.");
    expectBadInput(
      await runCli(['worker', '--concurrency', 'abc'], { config: fx.config }),
      "error: option '--concurrency <n>' argument 'abc' is invalid.",
    );
    expect(await listRuns(fx.env.ctx.meta)).toEqual([]);
  });

  it('a customers file listing a DID twice: exit 2 naming the file and the DID, no run written', async () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'convoy-customers-')), 'customers.json');
    writeFileSync(
      file,
      JSON.stringify(['did:mailto:a.example:alice', 'did:mailto:b.example:bob', 'did:mailto:a.example:alice']),
    );
    const r = await runCli(['plan', 'uploads', '--customers-file', file, '--run', 'dupes'], { config: fx.config });
    expectBadInput(r, new RegExp(file.replaceAll('.', '\\.')), /did:mailto:a\.example:alice/, /more than once/);
    expect(await listRuns(fx.env.ctx.meta)).toEqual([]);
  });

  it('plan uploads: an unknown or empty --rate-control, and --workers 0, --rate -5, --index-rate 0 with --dry-run: exit 2 naming the flag, no run written', async () => {
    const plan = ['plan', 'uploads', '--customer', 'did:mailto:a.example:alice', '--run', 'bad-uploads'];
    const cases: Array<[string[], RegExp]> = [
      [['--rate-control', 'sometimes'], /--rate-control: "sometimes" is not a mode; use "adaptive" .* or "fixed"/],
      [['--rate-control', ''], /--rate-control: "" is not a mode/],
      [['--dry-run', '--workers', '0'], /--workers must be 1 or more, got "0"/],
      [['--dry-run', '--rate', '-5'], /--rate must be a positive number, got "-5"/],
      [['--dry-run', '--index-rate', '0'], /--index-rate must be a positive number, got "0"/],
      [['--limit', '0'], /--limit must be 1 or more, got "0"/],
    ];
    for (const [args, message] of cases) {
      const r = await runCli([...plan, ...args], { config: fx.config });
      expectBadInput(r, message);
      expect(r.stdout, args.join(' ')).toBe('');
    }
    expect(await listRuns(fx.env.ctx.meta)).toEqual([]);
  });

  it('plan s3-sync --rate-control "": exit 2 naming the flag (not taken for the default), no run written', async () => {
    const r = await runCli(
      ['plan', 's3-sync', '--from', 'local:src-bucket', '--to', 'local:dst-bucket', '--rate-control', ''],
      { config: fx.config },
    );
    expectBadInput(r, /--rate-control: "" is not a mode; use "adaptive" .* or "fixed" \(only --tpslimit\/--bwlimit\)/);
    expect(await listRuns(fx.env.ctx.meta)).toEqual([]);
  });
});
