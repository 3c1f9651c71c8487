#!/usr/bin/env node
/**
 * The CDK app: `npm run synth` (offline) writes the CloudFormation template to infra/cdk.out/;
 * `npx aws-cdk@2 deploy --app "node dist/infra/cdk/app.js" -c key=value ...` deploys it.
 *
 * Context (see fleet-props.ts for every key and its default) comes from the cdk CLI
 * (`-c key=value`, cdk.json) or, when run directly with node, from the same `-c key=value` /
 * `--context key=value` arguments.
 *
 * A composition root, like coordinator/cli/main.ts: the one module of the CDK app that knows the
 * job kinds (worker/jobs/builtin.ts). What a kind adds to a fleet (the file each instance gives
 * `convoy worker`: KindPlugin.instanceFiles) goes from their plugins into the stack's props; the
 * stack itself names no kind.
 */
import { App } from 'aws-cdk-lib';
import { InputError } from '../../shared/errors.js';
import type { KindPlugin } from '../../worker/job-kind.js';
import { builtInKinds } from '../../worker/jobs/builtin.js';
import { ConvoyFleetStack } from './fleet-stack.js';
import { FLEET_CONTEXT_KEYS, parseFleetProps, type FleetKinds } from './fleet-props.js';

/** `-c a=1 --context b=2` -> { a: '1', b: '2' } (the cdk CLI passes context through CDK_CONTEXT_JSON instead). */
export function contextFromArgv(argv: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    let pair: string | undefined;
    if (arg === '-c' || arg === '--context') pair = argv[++i];
    else if (arg.startsWith('--context=')) pair = arg.slice('--context='.length);
    if (pair === undefined) continue;
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new InputError(`context "${pair}" is not key=value (for example -c maxInstances=20)`);
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

/** What the kinds add to a fleet: the file per instance that (at most) one of them takes. */
export function fleetKindsOf(plugins: readonly KindPlugin[]): FleetKinds {
  const taking = plugins.filter((p) => p.instanceFiles);
  if (taking.length > 1)
    throw new Error(
      `job kinds ${taking.map((p) => p.name).join(', ')} each take a file per instance; a fleet has one instanceFilesSource`,
    );
  return taking[0]?.instanceFiles ? { instanceFiles: taking[0].instanceFiles } : {};
}

export function buildApp(
  context: Record<string, unknown> = {},
  outdir?: string,
  plugins: readonly KindPlugin[] = builtInKinds,
): { app: App; stack: ConvoyFleetStack } {
  const app = new App({ context, outdir: process.env.CDK_OUTDIR ? undefined : outdir });
  const raw: Record<string, unknown> = {};
  for (const key of FLEET_CONTEXT_KEYS) {
    const v = app.node.tryGetContext(key);
    if (v !== undefined) raw[key] = v;
  }
  const props = parseFleetProps(raw);
  const kinds = fleetKindsOf(plugins);
  if (props.instanceFilesSource && !kinds.instanceFiles)
    throw new InputError(
      `instanceFilesSource is set (${props.instanceFilesSource}), but none of the job kinds (${plugins.map((p) => p.name).join(', ')}) takes a file per instance; drop -c instanceFilesSource`,
    );
  const stack = new ConvoyFleetStack(app, props.stackName, { ...props, ...kinds });
  return { app, stack };
}

const isMain = process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isMain) {
  try {
    const { app, stack } = buildApp(contextFromArgv(process.argv.slice(2)), 'infra/cdk.out');
    const assembly = app.synth();
    process.stdout.write(`synthesized ${stack.stackName} -> ${assembly.directory}/${stack.templateFile}\n`);
  } catch (err) {
    if (err instanceof InputError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}
