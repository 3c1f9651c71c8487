/**
 * `convoy plan <kind> --work` moves data in its own process, which cannot size its own young
 * generation: the CLI's entry starts it again with the flags (coordinator/cli/relaunch.ts). Which
 * command lines do; the real CLI's relaunched process (its flags, signals, kill -9) is in
 * test/s3-sync/plan-work.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { movesDataInOwnProcess, relaunchNodeArgs } from '../../coordinator/cli/relaunch.js';
import { hasRaisedScavengerCapacity, SEMI_SPACE_MIB } from '../../shared/young-generation.js';

const FLAGS = [
  `--min-semi-space-size=${SEMI_SPACE_MIB}`,
  `--max-semi-space-size=${SEMI_SPACE_MIB}`,
  ...(hasRaisedScavengerCapacity(process.versions.v8) ? ['--scavenger-max-new-space-capacity-mb=8'] : []),
];

describe('which command lines start again with the young-generation flags', () => {
  it('plan --work does, after any global options; nothing else does (worker --processes 1 is the process started)', () => {
    for (const args of [
      ['plan', 's3-sync', '--from', 'a:b', '--to', 'c:d', '--work'],
      ['--state-dir', 'plan', '--log-level', 'info', 'plan', 'uploads', '--work'],
      ['--config', 'worker', 'plan', 'pg-to-s3', '--work', '--run', 'r'],
    ])
      expect(relaunchNodeArgs(args, [], {}), args.join(' ')).toEqual(FLAGS);
    for (const args of [
      ['plan', 's3-sync', '--from', 'a:b', '--to', 'c:d'],
      ['worker'],
      ['worker', '--processes', 'auto'],
      ['worker', '--processes', '2'],
      ['worker', '--processes', '1'],
      ['worker', '--processes=1', '--work'],
      ['--state-dir', 'worker', 'status'],
      ['status', '--work'],
      [],
    ])
      expect(movesDataInOwnProcess(args), args.join(' ')).toBe(false);
    // the operator's own sizing wins, on the command line or in NODE_OPTIONS: no relaunch
    expect(relaunchNodeArgs(['plan', 'x', '--work'], ['--max-semi-space-size=64'], {})).toBeUndefined();
    expect(relaunchNodeArgs(['plan', 'x', '--work'], [], { NODE_OPTIONS: '--max_semi_space_size=8' })).toBeUndefined();
  });
});
