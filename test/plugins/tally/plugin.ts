/**
 * `tally`: a job kind that lives only in test/, added to convoy the way any kind is: this folder
 * (the plugin object below declares everything it adds) plus one line in a list of plugins
 * (../convoy-tally-cli.ts). It proves that a kind needs no change anywhere else: plan, worker,
 * monitor and verify all reach it through the registry.
 *
 * What it adds:
 *  - `convoy plan tally --bucket B --count N`: items `tally:<n>`, grouped `team-<n % 3>/batch-<n % 2>`
 *    (the monitor labels the parts `team` and `batch`);
 *  - `convoy worker --tally-stamp <text>`: a worker option, checked once per host by a start hook
 *    (empty -> exit 2) and applied in every worker process (`configureWorkerProcess`): written
 *    into every object the worker makes;
 *  - `convoy tally show --run R`: a command of its own (counts the run's objects);
 *  - the handler writes `tally/<n>` = "<n> <stamp>" to the local S3 bucket; `verify` checks them all.
 */
import { Option } from 'commander';
import { InputError } from '../../../shared/errors.js';
import type { KindPlugin } from '../../../worker/job-kind.js';
import { TALLY_KIND, type TallySpec, workerStamp } from './spec.js';

export const tallyPlugin: KindPlugin<TallySpec> = {
  name: TALLY_KIND,
  load: async () => (await import('./job.js')).tallyKind,
  planCommand: async () => (await import('./commands.js')).registerTallyPlan,
  commands: { paths: [['tally']], register: async () => (await import('./commands.js')).registerTallyCommands },
  workerOptions: () => [new Option('--tally-stamp <text>', 'tally: a stamp written into every object')],
  // once per host, before any process takes work: check the option
  async beforeWorkerStart(_engine, opts) {
    if (opts.tallyStamp !== undefined && !String(opts.tallyStamp).trim())
      throw new InputError('--tally-stamp is empty; give a word to write into each object');
  },
  // in every process that works items: apply it
  configureWorkerProcess(opts) {
    if (opts.tallyStamp !== undefined) workerStamp.value = String(opts.tallyStamp);
  },
  groupParts: ['team', 'batch'],
};
