/**
 * Requeue as an operator drives it: the CLI in a child process and `convoy serve` over a socket,
 * against a fresh local stack. A requeue that would hit everything or nothing is refused with
 * what is there instead; the API refuses what it cannot parse and a token too short to be safe.
 */
import { describe, expect, it } from 'vitest';
import { countByStatus } from '../../state/status-index.js';
import { runCli, startServe } from '../helpers/cli.js';
import { itemId, operatorFixture, queued, seedRun } from './fixture.js';

const fx = operatorFixture();
const TOKEN = 'operator-test-token-0123456789';

const failedCount = (runId: string) => countByStatus(fx.env.ctx.items, runId, 'failed');

describe('requeue refuses filters that match nothing', () => {
  it('a misspelled --class: exit 2, the classes present listed, nothing requeued', async () => {
    await seedRun(fx.env, 'rq', { failed: { SOURCE_OBJECT_MISSING: 3, ACCESS_DENIED: 2 } });
    const r = await runCli(['requeue', '--run', 'rq', '--class', 'SOURCE_OBJECT_MISING'], { config: fx.config });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain('SOURCE_OBJECT_MISING');
    expect(r.stderr).toContain('SOURCE_OBJECT_MISSING (3), ACCESS_DENIED (2)');
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stdout).toBe('');
    expect(await failedCount('rq')).toBe(5);
    expect(await queued(fx.env)).toBe(0);

    const ok = await runCli(['requeue', '--run', 'rq', '--class', 'ACCESS_DENIED'], { config: fx.config });
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('requeued 2 item(s)');
    expect(await failedCount('rq')).toBe(3);
  });

  it('a --class that is no error class convoy records: exit 2, called unknown, the nearest class named', async () => {
    await seedRun(fx.env, 'rqu', { failed: { SOURCE_OBJECT_MISSING: 2 } });
    const typo = await runCli(['requeue', '--run', 'rqu', '--class', 'SOURCE_OBJECT_MISING'], { config: fx.config });
    expect(typo.code, typo.stderr).toBe(2);
    expect(typo.stderr).toContain('"SOURCE_OBJECT_MISING" is not an error class convoy records');
    expect(typo.stderr).toContain('did you mean SOURCE_OBJECT_MISSING?');
    expect(typo.stderr).toContain('SOURCE_OBJECT_MISSING (2)');
    expect(typo.stderr).not.toMatch(/\n\s+at /);
    // a class from the registry that no item of this run failed with is not called unknown
    const absent = await runCli(['requeue', '--run', 'rqu', '--class', 'THROTTLED'], { config: fx.config });
    expect(absent.code, absent.stderr).toBe(2);
    expect(absent.stderr).toContain('no failed item of run rqu has error class "THROTTLED"');
    expect(absent.stderr).not.toContain('is not an error class');
    expect(await failedCount('rqu')).toBe(2);
    expect(await queued(fx.env)).toBe(0);
  });

  it('an --item that is not a failed item of the run: exit 2 saying so, nothing requeued', async () => {
    await seedRun(fx.env, 'rqi', { pending: 1, failed: { TIMEOUT: 2 } });
    const missing = await runCli(['requeue', '--run', 'rqi', '--item', 'i-9999'], { config: fx.config });
    expect(missing.code, missing.stderr).toBe(2);
    expect(missing.stderr).toMatch(/"i-9999" is not an item of run rqi/);
    expect(missing.stderr).toContain('TIMEOUT (2)');
    const pending = await runCli(['requeue', '--run', 'rqi', '--item', itemId(0)], { config: fx.config });
    expect(pending.code).toBe(2);
    expect(pending.stderr).toContain(`item "${itemId(0)}" of run rqi is pending, not failed`);
    expect(await failedCount('rqi')).toBe(2);
  });
});

describe('convoy serve: requeue and cursors over HTTP', () => {
  it('an invalid body or an unknown class is 400 and requeues nothing; a forged cursor is 400', async () => {
    await seedRun(fx.env, 'api', { failed: { SOURCE_OBJECT_MISSING: 3, ACCESS_DENIED: 2 } });
    const api = await startServe(['--config', fx.config], TOKEN);
    try {
      const post = (body: string) =>
        fetch(`${api.url}/runs/api/requeue`, {
          method: 'POST',
          headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
          body,
        });
      const invalid = await post('{errorClass: ACCESS_DENIED');
      expect(invalid.status).toBe(400);
      expect(((await invalid.json()) as { message: string }).message).toMatch(/not valid JSON/);
      expect(await failedCount('api')).toBe(5);

      const unknown = await post(JSON.stringify({ errorClass: 'ACCESS_DENYED' }));
      expect(unknown.status).toBe(400);
      expect(((await unknown.json()) as { message: string }).message).toContain(
        'SOURCE_OBJECT_MISSING (3), ACCESS_DENIED (2)',
      );
      const notFailed = await post(JSON.stringify({ itemId: 'nope' }));
      expect(notFailed.status).toBe(400);
      expect(await failedCount('api')).toBe(5);

      const forged = Buffer.from(JSON.stringify({ shard: 0, key: { bogus: 'x' } })).toString('base64url');
      const page = await fetch(`${api.url}/runs/api/failed?limit=1&cursor=${forged}`);
      expect(page.status).toBe(400);
      expect(((await page.json()) as { message: string }).message).toMatch(/cursor/);
      // a real cursor still pages
      const first = (await (await fetch(`${api.url}/runs/api/failed?limit=2`)).json()) as { nextCursor: string };
      expect((await fetch(`${api.url}/runs/api/failed?limit=2&cursor=${first.nextCursor}`)).status).toBe(200);

      const ok = await post(JSON.stringify({ errorClass: 'ACCESS_DENIED' }));
      expect(ok.status).toBe(200);
      expect(await ok.json()).toMatchObject({ requeued: 2 });
    } finally {
      await api.stop();
    }
  });

  it('a CONVOY_API_TOKEN shorter than 16 characters: serve refuses to start, exit 2, naming it', async () => {
    const r = await runCli(['serve', '--port', '0'], {
      config: fx.config,
      env: { CONVOY_API_TOKEN: 'short' },
      timeoutMs: 20_000,
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('CONVOY_API_TOKEN');
    expect(r.stderr).toContain('16');
    expect(r.stdout).not.toContain('listening');
  });
});
