/**
 * How the CLI ends: bad input exits 2 with the message alone (it names the input and the fix);
 * anything else exits 1 with its class. Secrets never appear: SDK and driver error texts can
 * quote an endpoint with its credentials (`http://USER:PASS@host`), so every message is passed
 * through `redact` before it is printed.
 */
import { ConvoyError, InputError, toError } from '../../shared/errors.js';
import { redact } from '../../shared/redact.js';

export function exitCodeFor(err: unknown): number {
  return err instanceof InputError ? 2 : 1;
}

export function describeForCli(err: unknown): string {
  if (err instanceof InputError) return redact(`convoy: ${err.message}`);
  if (err instanceof ConvoyError) return redact(`convoy: [${err.errorClass}] ${err.message}`);
  const e = toError(err);
  return redact(`convoy: ${e.name}: ${e.message}`);
}

let stdoutGuarded = false;

/**
 * A reader that goes away early (`convoy status | head -1`) is not an error: the output it
 * wanted was written. Without a listener, the EPIPE from the next write is an uncaught
 * exception with a stack trace; with it, the command ends at once and quietly.
 */
export function exitQuietlyOnEpipe(stream: NodeJS.WriteStream = process.stdout): void {
  if (stdoutGuarded) return;
  stdoutGuarded = true;
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

/** Wrap a command action: print a clear message and set the exit code instead of a stack trace. */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<void | number>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    exitQuietlyOnEpipe();
    try {
      const code = await fn(...args);
      if (typeof code === 'number') process.exitCode = code;
    } catch (err) {
      process.stderr.write(describeForCli(err) + '\n');
      if (process.env.CONVOY_DEBUG) process.stderr.write(`${redact(toError(err).stack ?? '')}\n`);
      process.exitCode = exitCodeFor(err);
    }
  };
}
