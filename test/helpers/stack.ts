/**
 * Test fixtures: a real local stack (dynalite + fauxqs, in-process, port 0) with fresh table and
 * queue names per call, and a ConvoyContext on it. No mocks: the real AWS SDK over HTTP.
 *
 * CONVOY_TEST_BACKEND=aws-local (`npm run test:compat`) puts the same tests on the second
 * implementations instead: DynamoDB Local and radosgw, started once per run by
 * test/compat/setup.ts and shared by every file (fresh tables, queues and S3 tenants per stack).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, inject } from 'vitest';
import { LOCAL_BACKENDS, loadConfig, type ConvoyConfig, type LocalBackend } from '../../shared/config.js';
import { createContext } from '../../shared/context.js';
import { KindRegistry, withKinds, type EngineContext, type KindPlugin } from '../../worker/job-kind.js';
import { builtInKinds } from '../../worker/jobs/builtin.js';
import { silentLogger, type Logger } from '../../shared/log.js';
import { provisionState, startLocalStack, type LocalStack, type LocalStackOptions } from '../../infra/local/stack.js';
import { stateSchema } from '../../shared/config.js';

export interface TestStack {
  stack: LocalStack;
  close(): Promise<void>;
}

/** The backend the tests run on: CONVOY_TEST_BACKEND, `embedded` when unset. */
export function testBackend(): LocalBackend {
  const name = process.env.CONVOY_TEST_BACKEND || 'embedded';
  if (!(LOCAL_BACKENDS as readonly string[]).includes(name))
    throw new Error(`CONVOY_TEST_BACKEND=${name}: use one of ${LOCAL_BACKENDS.join(', ')}`);
  return name as LocalBackend;
}

export async function startTestStack(opts: LocalStackOptions = {}): Promise<TestStack> {
  const backend = opts.backend ?? testBackend();
  if (backend === 'embedded') {
    const stack = await startLocalStack({ ...opts, backend });
    return { stack, close: () => stack.close() };
  }
  // aws-local: the run's shared servers (a file run alone with the variable starts its own), so
  // this stack's default tables and queues get names of their own
  const suffix = randomBytes(4).toString('hex');
  const stack = await startLocalStack({
    ...opts,
    backend,
    awsLocal: opts.awsLocal ?? inject('awsLocal'),
    names: {
      itemsTable: `convoy-items-${suffix}`,
      metaTable: `convoy-meta-${suffix}`,
      queueName: `convoy-work-${suffix}`,
      dlqName: `convoy-dlq-${suffix}`,
      ...opts.names,
    },
  });
  return { stack, close: () => stack.close() };
}

export interface TestEnv {
  config: ConvoyConfig;
  ctx: EngineContext;
  /** a fresh namespace on the same servers */
  names: { itemsTable: string; metaTable: string; queueName: string; dlqName: string };
  close(): void;
}

/** A context on fresh tables and queues of a running stack (cheap: ~20 ms). */
export async function freshEnv(
  stack: LocalStack,
  opts: { log?: Logger; now?: () => number; remotes?: Record<string, unknown>; kinds?: readonly KindPlugin[] } = {},
): Promise<TestEnv> {
  const suffix = randomBytes(4).toString('hex');
  const names = {
    itemsTable: `items-${suffix}`,
    metaTable: `meta-${suffix}`,
    queueName: `work-${suffix}`,
    dlqName: `dlq-${suffix}`,
  };
  const state = await provisionState(
    stateSchema.parse({ ...stack.state, queueUrl: undefined, dlqUrl: undefined, ...names }),
  );
  const config = loadConfig({
    stack: { pid: process.pid, startedAtMs: Date.now(), state, remotes: stack.remotes, endpoints: stack.endpoints },
    remotes: opts.remotes as never,
    env: {},
    configPath: undefined,
    stateDir: '/nonexistent-convoy-test-state',
  });
  // the built-in kinds, plus the test's own (a test kind is added the way a new kind would be)
  const ctx = withKinds(
    await createContext(config, { log: opts.log ?? silentLogger, now: opts.now }),
    new KindRegistry([...builtInKinds, ...(opts.kinds ?? [])]),
  );
  return { config, ctx, names, close: () => ctx.close() };
}

/** Poll `check` until it returns a truthy value (a condition, not a sleep). */
export async function waitUntil<T>(
  check: () => Promise<T> | T,
  opts: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${opts.what ?? 'condition'}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 50));
  }
}

/**
 * A test file's stack and one fresh env on it, started before its tests and closed after them:
 * `let env: TestEnv; useFreshEnv((e) => (env = e));`
 */
export function useFreshEnv(onReady: (env: TestEnv, t: TestStack) => void): void {
  let t: TestStack | undefined;
  let env: TestEnv | undefined;
  beforeAll(async () => {
    t = await startTestStack();
    env = await freshEnv(t.stack);
    onReady(env, t);
  });
  afterAll(async () => {
    env?.close();
    await t?.close();
  });
}
