/**
 * uploads: re-index storacha uploads (sharded DAG indexes built in threads, UCAN registration,
 * location claims, gateway authorization). Everything the kind adds to convoy: `convoy plan
 * uploads`, its tools (`index`, `distribute`, `uploads show`, `local seed uploads`), the worker's
 * `--customers-file` and the plan it makes at start (and that each fleet instance gets a
 * customers file of its own for it), and how the monitor names its groups. Its modules (the UCAN
 * stack) load only when one of these runs.
 */
import { Option } from 'commander';
import { builtUrl } from '../../../shared/package-files.js';
import type { KindPlugin } from '../../job-kind.js';
import type { UploadsSpec } from './spec.js';

export const uploadsPlugin: KindPlugin<UploadsSpec> = {
  name: 'uploads',
  load: async () => (await import('./job.js')).uploadsKind,
  planCommand: async () => (await import('./plan-command.js')).registerPlanCommand,
  commands: {
    paths: [['index'], ['distribute'], ['uploads'], ['local', 'seed']],
    register: async () => (await import('./cli.js')).registerUploadsCommands,
  },
  workerOptions: () => [
    new Option(
      '--customers-file <file>',
      'uploads: plan these customers (a JSON array of DIDs or a `convoy distribute` file; idempotent) before working the shared queue',
    ),
  ],
  // Imported only when the option is given: the planner's modules cost ~0.6 s of start-up CPU,
  // which every other `convoy worker` would pay for nothing.
  beforeWorkerStart: async (engine, opts) => {
    if (opts.customersFile === undefined) return;
    await (await import('./worker-start.js')).planCustomersFile(await engine(), opts);
  },
  localServices: { module: builtUrl('worker/jobs/uploads/local-services.js').href },
  groupParts: ['customer', 'space'],
  instanceFiles: { workerOption: '--customers-file', describe: 'customers' },
  describeSpec: describeUploadsOptions,
};

/**
 * The run's options line (`convoy status`, the monitor, the API's `settings.options`):
 * `mode migrate, limit 100, rate-control adaptive`. A spec without rateControl (planned before it
 * existed) runs adaptive (runtime.ts runtimeForRun), so it says so.
 */
export function describeUploadsOptions(spec: UploadsSpec): string {
  const parts = [`mode ${spec.mode ?? 'migrate'}`];
  if (spec.limit !== undefined) parts.push(`limit ${spec.limit}`);
  parts.push(`rate-control ${spec.rateControl ?? 'adaptive'}`);
  return parts.join(', ');
}
