/**
 * The benchmark library's own unit tests (`npm run test:bench-lib`). The main vitest config
 * excludes test/bench/** so that `npm test` never starts a benchmark; these tests are small and
 * need no emulator.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    root: fileURLToPath(new URL('.', import.meta.url)),
    include: ['*.test.ts'],
    testTimeout: 30_000,
  },
});
