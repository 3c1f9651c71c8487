/**
 * Reconcile as an operator drives it (the CLI in a child process, a fresh local stack): run
 * twice, it sends one message per lost item, not two; the monitor says when pending items have
 * no message in the queue and that reconcile is what fixes it.
 */
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { operatorFixture, queued, seedRun } from './fixture.js';

const fx = operatorFixture();

describe('reconcile', () => {
  it('twice in a row sends one message per lost item; the monitor hints at it while none is queued', async () => {
    await seedRun(fx.env, 'rec', { pending: 8 });
    const before = await runCli(['monitor', '--run', 'rec'], { config: fx.config });
    expect(before.code, before.stderr).toBe(0);
    expect(before.stdout).toContain(
      'hint: 8 pending items have no message in the queue: run convoy reconcile --run rec',
    );

    const first = await runCli(['reconcile', '--run', 'rec'], { config: fx.config });
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain('re-sent 8 item(s)');
    const second = await runCli(['reconcile', '--run', 'rec'], { config: fx.config });
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toContain('re-sent 0 item(s)');
    expect(second.stdout).toContain('left 8 item(s) alone');
    expect(await queued(fx.env)).toBe(8);

    const after = await runCli(['monitor', '--run', 'rec'], { config: fx.config });
    expect(after.stdout).not.toContain('hint:');
    // --grace-ms 0 is the operator's way to re-send regardless
    const forced = await runCli(['reconcile', '--run', 'rec', '--grace-ms', '0'], { config: fx.config });
    expect(forced.stdout).toContain('re-sent 8 item(s)');
    expect(await queued(fx.env)).toBe(16);
  });
});
