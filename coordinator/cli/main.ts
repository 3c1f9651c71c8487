#!/usr/bin/env node
/**
 * The `convoy` command line. Each component registers its own commands; this file only assembles
 * them. Every command has --help; bad input exits 2 with a message naming the input and the fix.
 */
import { Command } from 'commander';
import { registerLocalCommands } from '../../infra/local/commands.js';
import { registerPlanCommands } from '../../worker/jobs/index.js';
import { builtInKinds, loadAllBuiltInKinds } from '../../worker/jobs/builtin.js';
import { registerWorkerCommand } from '../../worker/cli.js';
import { registerMonitorCommands } from '../../monitor/cli.js';
import { registerRunCommands } from './run-commands.js';

// The AWS SDK warns on every start that its releases after January 2027 need Node 22; the
// engines field and the README say what we support, so keep operators' terminals free of it.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

type Registrar = (program: Command) => void;

/**
 * Import only what the invoked command needs: every process (each worker, each `plan`) would
 * otherwise load every kind's dependencies (the UCAN stack, the PostgreSQL driver) at start-up.
 * Help and unknown commands load everything, so `--help` always lists it all.
 */
async function loadCommandModules(argv: string[]): Promise<Registrar[]> {
  const words = argv.slice(2).filter((a, i, all) => !a.startsWith('-') && !['--config', '--state-dir', '--log-level'].includes(all[i - 1] ?? ''));
  const [command, sub] = words;
  const wantsHelp = argv.includes('--help') || argv.includes('-h') || command === 'help' || command === undefined;
  const uploads = async () => [(await import('../../worker/jobs/uploads/cli.js')).registerUploadsCommands as Registrar];
  const replay = async () => [(await import('../../worker/jobs/pg-to-s3/cli.js')).registerReplayCommand as Registrar];
  if (command === 'plan' && sub && builtInKinds[sub] && !wantsHelp) {
    await builtInKinds[sub]!();
    return [];
  }
  if (['worker', 'status', 'requeue', 'reconcile', 'verify', 'monitor', 'serve'].includes(command ?? '') && !wantsHelp) return [];
  if (command === 'local' && sub !== 'seed' && !wantsHelp) return [];
  if (command === 'replay' && !wantsHelp) return replay();
  if (['index', 'uploads', 'distribute', 'local'].includes(command ?? '') && !wantsHelp) return uploads();
  await loadAllBuiltInKinds();
  return [...(await uploads()), ...(await replay())];
}

export function buildProgram(extra: Registrar[] = []): Command {
  const program = new Command('convoy')
    .description('move and re-index large data sets with a fleet of workers (SQS work items, DynamoDB progress rows)')
    .option('--config <file>', 'config file (default ./convoy.config.json; env CONVOY_CONFIG)')
    .option('--state-dir <dir>', 'local stack state directory (default .convoy; env CONVOY_STATE_DIR)')
    .option('--log-level <level>', 'log level: debug, info, warn, error (env CONVOY_LOG_LEVEL)')
    .showHelpAfterError()
    .exitOverride((err) => {
      // commander's own errors (unknown option, missing argument) are bad input: exit 2
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') process.exit(0);
      process.exit(2);
    });
  program.configureHelp({ sortSubcommands: true });
  registerLocalCommands(program);
  const plan = program.command('plan').description('create a run: expand a spec into work items and enqueue them');
  registerPlanCommands(plan);
  registerWorkerCommand(program);
  registerRunCommands(program);
  registerMonitorCommands(program);
  for (const register of extra) register(program);
  // sub-commands inherit the exit behaviour
  const inherit = (cmd: Command) => {
    for (const sub of cmd.commands) {
      sub.exitOverride((err) => {
        if (err.code === 'commander.helpDisplayed' || err.code === 'commander.help') process.exit(0);
        process.exit(2);
      });
      sub.showHelpAfterError();
      inherit(sub);
    }
  };
  inherit(program);
  return program;
}

await buildProgram(await loadCommandModules(process.argv)).parseAsync(process.argv);
