/**
 * The three places an operator reads a run's settings, through the real CLI: `convoy status`,
 * `convoy monitor` without --watch (its one-shot summary), and the API's run detail
 * (GET /runs/:id of a real `convoy serve` over a socket). They share one formatter
 * (coordinator/run-settings.ts), and this reads all three so a test can say they agree.
 */
import { runCli, startServe } from './cli.js';

/** The `options:` line of each surface (undefined where it has none). */
export interface OptionsOnSurfaces {
  status: string | undefined;
  monitor: string | undefined;
  api: string | undefined;
}

const optionsLine = (text: string) =>
  text
    .split('\n')
    .find((l) => l.startsWith('options: '))
    ?.slice('options: '.length);

/**
 * Read run `runId`'s options line on status, the monitor's summary and the API. `cliArgs` are the
 * global options naming the environment (`['--config', file]` or `['--state-dir', dir]`).
 */
export async function optionsOnSurfaces(cliArgs: string[], runId: string): Promise<OptionsOnSurfaces> {
  const status = await runCli([...cliArgs, 'status', '--run', runId]);
  if (status.code !== 0) throw new Error(`convoy status failed: ${status.stderr}`);
  const monitor = await runCli([...cliArgs, 'monitor', '--run', runId]);
  if (monitor.code !== 0) throw new Error(`convoy monitor failed: ${monitor.stderr}`);
  const detail = await withApi(cliArgs, async (url) => {
    const res = await fetch(`${url}/runs/${encodeURIComponent(runId)}`);
    if (!res.ok) throw new Error(`GET /runs/${runId}: HTTP ${res.status} ${await res.text()}`);
    return (await res.json()) as { settings?: { options?: string } };
  });
  return { status: optionsLine(status.stdout), monitor: optionsLine(monitor.stdout), api: detail.settings?.options };
}

/** `convoy serve --port 0` (no token: reads only) for the duration of `fn`, given its base URL. */
export async function withApi<T>(cliArgs: string[], fn: (url: string) => Promise<T>): Promise<T> {
  const api = await startServe(cliArgs);
  try {
    return await fn(api.url);
  } finally {
    await api.stop();
  }
}
