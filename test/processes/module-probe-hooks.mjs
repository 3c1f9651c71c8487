// The load hook of ./module-probe.mjs (run on Node's hooks thread): logs the URL of every file
// the process loads as an ES module, to the file the probe named.
import { appendFileSync } from 'node:fs';

let log;

export function initialize(data) {
  log = data.log;
}

export async function load(url, context, nextLoad) {
  if (url.startsWith('file:')) appendFileSync(log, `${url}\n`);
  return nextLoad(url, context);
}
