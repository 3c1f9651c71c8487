/**
 * The `convoy` program, built from the engine's commands and a list of job kinds. The engine's
 * commands (local, plan, worker, status and the other run commands, monitor, serve) are always
 * there; each kind adds `plan <kind>` and the commands it declares. A kind's command modules are
 * imported only when one of its commands runs (or for help), so `convoy status` does not load the
 * UCAN stack or the PostgreSQL driver; what a command does never depends on what was loaded.
 */
import { Command } from 'commander';
import { KindRegistry, type KindPlugin } from '../../worker/job-kind.js';
import { logFormatOption, retryPolicyOptions } from './globals.js';
import { attachKinds } from './kinds.js';
import { checkWorkOptionsFirst, workOptions } from './work-here.js';

/**
 * The engine's commands, by the module that declares them. A command line imports only the
 * module of the command it names (all of them for help, or a word none of them owns, so that
 * commander can list and suggest): the modules import the state layer and the AWS clients, and
 * `convoy worker` starts on every host, each of its processes, each time (test/unit/cli-modules
 * checks that these names are the commands each module declares).
 */
export const ENGINE_COMMANDS: ReadonlyArray<{
  names: readonly string[];
  register(program: Command, kinds: KindRegistry, plugins: readonly KindPlugin[]): Promise<void>;
}> = [
  {
    names: ['local'],
    register: async (program, _kinds, plugins) =>
      void (await import('../../infra/local/commands.js')).registerLocalCommands(
        program,
        plugins.flatMap((p) => (p.localServices ? [p.localServices.module] : [])),
      ),
  },
  {
    names: ['worker'],
    register: async (program, kinds) =>
      void (await import('../../worker/cli.js')).registerWorkerCommand(program, kinds),
  },
  {
    names: ['status', 'requeue', 'reconcile', 'pause', 'resume', 'cancel', 'tune', 'report', 'verify'],
    register: async (program) => (await import('./run-commands.js')).registerRunCommands(program),
  },
  {
    names: ['monitor', 'serve'],
    register: async (program, kinds) => (await import('../../monitor/cli.js')).registerMonitorCommands(program, kinds),
  },
];

/** The words of argv that name a command (options and their values left out: those of the program and of `plan`). */
export function commandWords(argv: readonly string[]): string[] {
  const valued = new Set([
    '--config',
    '--state-dir',
    '--log-level',
    '--log-format',
    ...retryPolicyOptions().map((o) => o.long ?? ''),
  ]);
  return argv.slice(2).filter((a, i, all) => !a.startsWith('-') && !valued.has(all[i - 1] ?? ''));
}

/** What of each kind a command line needs: all of it for help, else the one kind it names. */
function wanted(plugins: readonly KindPlugin[], argv: readonly string[]) {
  const words = commandWords(argv);
  const help = argv.includes('--help') || argv.includes('-h') || words[0] === 'help' || words.length === 0;
  const owns = (p: KindPlugin) => p.commands?.paths.some((path) => path.every((w, i) => words[i] === w)) ?? false;
  const known =
    words[0] === 'plan' ||
    ENGINE_COMMANDS.some((c) => c.names.includes(words[0]!)) ||
    plugins.some((p) => p.commands?.paths.some((path) => path[0] === words[0]));
  return {
    engine: ENGINE_COMMANDS.filter((c) => help || !known || c.names.includes(words[0]!)),
    kinds: plugins.map((p) => ({
      plugin: p,
      plan: help || (words[0] === 'plan' && (words[1] === undefined || words[1] === p.name)),
      commands: help || owns(p),
    })),
  };
}

export async function buildProgram(
  plugins: readonly KindPlugin[],
  argv: readonly string[] = process.argv,
): Promise<Command> {
  const kinds = new KindRegistry(plugins);
  const program = new Command('convoy')
    .description('move and re-index large data sets with a fleet of workers (SQS work items, DynamoDB progress rows)')
    .option('--config <file>', 'config file (default ./convoy.config.json; env CONVOY_CONFIG)')
    .option('--state-dir <dir>', 'local stack state directory (default .convoy; env CONVOY_STATE_DIR)')
    .option('--log-level <level>', 'log level: debug, info, warn, error (env CONVOY_LOG_LEVEL)')
    .addOption(logFormatOption())
    .showHelpAfterError();
  attachKinds(program, kinds);
  program.configureHelp({ sortSubcommands: true });
  const needed = wanted(plugins, argv);
  // `local` first: a kind's commands may add to it (the uploads kind's `local seed`)
  for (const commands of needed.engine) await commands.register(program, kinds, plugins);
  const plan = program.command('plan').description('create a run: expand a spec into work items and enqueue them');
  for (const option of retryPolicyOptions()) plan.addOption(option);
  for (const option of workOptions()) plan.addOption(option);
  checkWorkOptionsFirst(plan);
  // a kind's `plan <kind> --help` lists plan's own options (--work, the retry policy) and the
  // program's (--config, --state-dir) under "Global Options": they apply to every kind
  plan.configureHelp({ sortSubcommands: true, showGlobalOptions: true });
  for (const need of needed.kinds) {
    if (need.plan && need.plugin.planCommand) (await need.plugin.planCommand())(plan);
    if (need.commands && need.plugin.commands) (await need.plugin.commands.register())(program);
  }
  exitCodesOf(program);
  return program;
}

/**
 * commander's own errors (unknown option, missing argument, an invalid value) are bad input:
 * exit 2 after its message; help and version exit 0. Every sub-command inherits this.
 */
function exitCodesOf(cmd: Command): void {
  cmd.exitOverride((err) => {
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.help' || err.code === 'commander.version')
      process.exit(0);
    process.exit(2);
  });
  cmd.showHelpAfterError();
  for (const sub of cmd.commands) exitCodesOf(sub);
}

/** Build the program for `argv` and run it. */
export async function runConvoy(plugins: readonly KindPlugin[], argv: readonly string[] = process.argv): Promise<void> {
  // The AWS SDK warns on every start that its releases after January 2027 need Node 22; the
  // engines field and the README say what we support, so keep operators' terminals free of it.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  await (await buildProgram(plugins, argv)).parseAsync(argv as string[]);
}
