import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // test/compat: the aws-local backend's own tests, run by `npm run test:compat` (Java and Ceph)
    exclude: ['test/bench/**', 'test/chaos/**', 'test/compat/**', 'node_modules/**', 'dist/**'],
    pool: 'forks',
    // 2 cores: two test files at a time; each starts its own local stack on port 0.
    // isolate: false: a fork runs file after file with the modules it already imported (the SDK,
    // the engine) instead of a fresh process per file: the Node 20 suite alone on 2 cores took
    // 593 s and 914 s of CPU isolated, 488 s and 695 s not (one run each, same build). What a
    // module keeps between calls is therefore keyed by the context or config a test built
    // (shared/per-context.ts, the uploads config), never by a run id alone: two files in one fork
    // reuse run ids such as `r1` against other stacks.
    poolOptions: { forks: { maxForks: 2, minForks: 1, isolate: false } },
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
