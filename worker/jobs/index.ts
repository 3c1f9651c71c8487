/**
 * The built-in job kinds: importing this module registers them all, and `registerPlanCommands`
 * adds each kind's `convoy plan <kind>` subcommand. Adding a kind touches its own folder and the
 * two lists below.
 */
import type { Command } from 'commander';
import { registerJobKind } from './registry.js';

type PlanCommandRegistrar = (plan: Command) => void;

const planCommands: PlanCommandRegistrar[] = [];

export function addBuiltInKind(kind: Parameters<typeof registerJobKind>[0], planCommand?: PlanCommandRegistrar): void {
  registerJobKind(kind);
  if (planCommand) planCommands.push(planCommand);
}

export function registerPlanCommands(plan: Command): void {
  for (const register of planCommands) register(plan);
}
