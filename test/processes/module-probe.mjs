// Loaded with `--import` (NODE_OPTIONS) into every process of a host under test: at exit it
// writes how many AWS SDK modules the process loaded, and whether it was a supervisor's child
// (CONVOY_WORKER_CHILD, worker/host-link.ts), to $CONVOY_TEST_MODULE_PROBE_DIR/<pid>.json.
// The SDK's packages are CommonJS, so every one loaded is in require.cache, however imported.
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
process.on('exit', () => {
  const sdk = Object.keys(require.cache).filter((file) => file.includes('/@aws-sdk/')).length;
  const child = process.env.CONVOY_WORKER_CHILD !== undefined;
  writeFileSync(`${process.env.CONVOY_TEST_MODULE_PROBE_DIR}/${process.pid}.json`, JSON.stringify({ child, sdk }));
});
