import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // test/compat: the aws-local backend's own tests, run by `npm run test:compat` (Java and Ceph)
    exclude: ['test/bench/**', 'test/chaos/**', 'test/compat/**', 'node_modules/**', 'dist/**'],
    pool: 'forks',
    // 2 cores: two test files at a time; each starts its own local stack on port 0.
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
