/**
 * How the CLI ends: bad input exits 2 with the message alone (it names the input and the fix);
 * anything else exits 1 with its class. Secrets never appear: messages come from our errors and
 * SDK error texts, which do not carry credentials.
 */
import { ConvoyError, InputError, toError } from '../../shared/errors.js';

export function exitCodeFor(err: unknown): number {
  return err instanceof InputError ? 2 : 1;
}

export function describeForCli(err: unknown): string {
  if (err instanceof InputError) return `convoy: ${err.message}`;
  if (err instanceof ConvoyError) return `convoy: [${err.errorClass}] ${err.message}`;
  const e = toError(err);
  return `convoy: ${e.name}: ${e.message}`;
}

/** Wrap a command action: print a clear message and set the exit code instead of a stack trace. */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<void | number>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      const code = await fn(...args);
      if (typeof code === 'number') process.exitCode = code;
    } catch (err) {
      process.stderr.write(describeForCli(err) + '\n');
      if (process.env.CONVOY_DEBUG) process.stderr.write(`${toError(err).stack}\n`);
      process.exitCode = exitCodeFor(err);
    }
  };
}
