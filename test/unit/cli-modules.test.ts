/**
 * The CLI imports only the module of the command a command line names (coordinator/cli/program.ts,
 * ENGINE_COMMANDS): every `convoy worker` process of every host starts faster for it. These
 * tests hold the list to what each module declares, so that a command added to a module but not
 * to the list (it would be missing from command lines that name it) fails here.
 */
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram, ENGINE_COMMANDS } from '../../coordinator/cli/program.js';
import { builtInKinds } from '../../worker/jobs/builtin.js';
import { KindRegistry } from '../../worker/job-kind.js';

const names = (c: Command) => c.commands.map((s) => s.name()).sort();
const argv = (...words: string[]) => ['node', 'convoy', ...words];

describe('the engine commands, imported by the command named', () => {
  it.each(ENGINE_COMMANDS.map((c) => [c.names.join(','), c] as const))(
    '%s: the names listed are the commands the module declares',
    async (_label, commands) => {
      const program = new Command('convoy');
      await commands.register(program, new KindRegistry(builtInKinds), builtInKinds);
      expect(names(program)).toEqual([...commands.names].sort());
    },
  );

  it('`convoy worker` builds the worker command (and plan) only; help and an unknown word build all', async () => {
    expect(names(await buildProgram(builtInKinds, argv('worker', '--processes', '2')))).toEqual(['plan', 'worker']);
    expect(names(await buildProgram(builtInKinds, argv('--config', 'x.json', 'status', '--run', 'r')))).toEqual([
      'cancel',
      'pause',
      'plan',
      'reconcile',
      'report',
      'requeue',
      'resume',
      'status',
      'tune',
      'verify',
    ]);
    const all = ENGINE_COMMANDS.flatMap((c) => c.names);
    for (const line of [argv('--help'), argv('worker', '--help'), argv('statsu'), argv()])
      expect(names(await buildProgram(builtInKinds, line))).toEqual(expect.arrayContaining([...all, 'plan']));
    // a kind's own command under `local` (the uploads kind's `local seed`) still finds `local`
    const local = (await buildProgram(builtInKinds, argv('local', 'seed', 'uploads'))).commands.find(
      (c) => c.name() === 'local',
    );
    expect(local && names(local)).toEqual(expect.arrayContaining(['down', 'seed', 'status', 'up']));
  });
});
