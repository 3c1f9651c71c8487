/**
 * Part-copy rows on the real state table (dynalite): each child is counted once however often it
 * says it copied; the completion goes to one item only, only once every child has copied, and to
 * the same item again after a crash; a failed object stays failed.
 */
import { describe, expect, it } from 'vitest';
import {
  claimCompletion,
  completePartCopy,
  createPartCopy,
  failPartCopy,
  getPartCopy,
  markChildCopied,
} from '../../state/part-copies.js';
import { type TestEnv, useFreshEnv } from '../helpers/stack.js';

let env: TestEnv;
useFreshEnv((e) => (env = e));

describe('part-copy rows', () => {
  it('one completer, only after every child, counted once each; the same item may claim again', async () => {
    const meta = env.ctx.meta;
    const ref = { runId: 'r1', object: '0#big.bin' };
    expect((await createPartCopy(meta, ref, { uploadId: 'u1', children: 3 })).created).toBe(true);
    // a second creator (a re-delivered range item) gets the first one's upload
    const again = await createPartCopy(meta, ref, { uploadId: 'u2', children: 3 });
    expect([again.created, again.row.uploadId]).toEqual([false, 'u1']);

    await markChildCopied(meta, ref, 'c1');
    expect(await claimCompletion(meta, ref, 'c1')).toBe('not-all-copied');
    // a re-delivered child says it again: still one
    expect((await markChildCopied(meta, ref, 'c1')).copiedCount).toBe(1);
    await Promise.all([markChildCopied(meta, ref, 'c2'), markChildCopied(meta, ref, 'c3')]);
    const claims = await Promise.all([
      claimCompletion(meta, ref, 'c2'),
      claimCompletion(meta, ref, 'c3'),
      claimCompletion(meta, ref, 'c1'),
    ]);
    expect(claims.filter((c) => c === 'claimed')).toHaveLength(1);
    expect(claims.filter((c) => c === 'taken')).toHaveLength(2);
    const winner = ['c2', 'c3', 'c1'][claims.indexOf('claimed')]!;
    // the winner killed while completing is re-delivered as the same item: it claims again
    expect(await claimCompletion(meta, ref, winner)).toBe('claimed');
    expect(await completePartCopy(meta, ref, winner === 'c1' ? 'c2' : 'c1')).toBe('lost');
    expect(await completePartCopy(meta, ref, winner)).toBe('ok');
    expect(await claimCompletion(meta, ref, winner)).toBe('completed');
    expect(await failPartCopy(meta, ref, { errorClass: 'ACCESS_DENIED', message: 'late' })).toBe('lost');
    expect((await getPartCopy(meta, ref))?.status).toBe('completed');
  });

  it('a failed object: no more copies counted, no completion, the first failure kept', async () => {
    const meta = env.ctx.meta;
    const ref = { runId: 'r1', object: '0#denied.bin' };
    await createPartCopy(meta, ref, { uploadId: 'u3', children: 2 });
    await markChildCopied(meta, ref, 'c1');
    expect(await failPartCopy(meta, ref, { errorClass: 'ACCESS_DENIED', message: 'part 6', child: 'c2' })).toBe('ok');
    expect(await failPartCopy(meta, ref, { errorClass: 'UNKNOWN', message: 'later' })).toBe('lost');
    expect((await markChildCopied(meta, ref, 'c2')).copiedCount).toBe(1);
    expect(await claimCompletion(meta, ref, 'c2')).toBe('failed');
    const row = await getPartCopy(meta, ref);
    expect([row?.status, row?.lastError?.errorClass, row?.lastError?.child]).toEqual(['failed', 'ACCESS_DENIED', 'c2']);
  });
});
