/** The pure half of a copy by parts spread over items: batches, ids, the predicted ETag. */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  batchBytes,
  childBatches,
  multipartEtag,
  partRange,
  partsItemId,
  partsPerItemFor,
  predictableEtags,
  spreads,
} from '../../worker/jobs/s3-sync/part-copy-plan.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

describe('childBatches', () => {
  it('leaves part 1 to the starting item and cuts parts 2..N into batches', () => {
    expect(childBatches(40 * MiB, 5 * MiB, 2)).toEqual([
      { child: 0, first: 2, last: 3 },
      { child: 1, first: 4, last: 5 },
      { child: 2, first: 6, last: 7 },
      { child: 3, first: 8, last: 8 },
    ]);
    // a short last part: 41 MiB in 5 MiB parts is 9 parts
    expect(childBatches(41 * MiB, 5 * MiB, 4).map((b) => [b.first, b.last])).toEqual([
      [2, 5],
      [6, 9],
    ]);
    expect(childBatches(5 * MiB, 5 * MiB, 4)).toEqual([]);
  });

  it('covers every part once, for AWS-sized objects too', () => {
    const size = 5 * 1024 * GiB; // 5 TiB in 525 MiB parts: 9,753 parts
    const part = 525 * MiB;
    const per = partsPerItemFor(part);
    expect(per).toBe(1);
    const batches = childBatches(size, part, 8);
    expect(batches[0]!.first).toBe(2);
    for (let i = 1; i < batches.length; i++) expect(batches[i]!.first).toBe(batches[i - 1]!.last + 1);
    expect(batches.at(-1)!.last).toBe(Math.ceil(size / part));
    expect(batches.reduce((n, b) => n + batchBytes(b, part, size), 0) + partRange(1, part, size).end + 1).toBe(size);
  });
});

describe('parts per item and spreading', () => {
  it('defaults to about 1 GiB of parts, or the configured number', () => {
    expect(partsPerItemFor(8 * MiB)).toBe(128);
    expect(partsPerItemFor(5 * GiB)).toBe(1);
    expect(partsPerItemFor(8 * MiB, 3)).toBe(3);
  });
  it('spreads only an object of more than one item of parts', () => {
    expect(spreads(128, 128)).toBe(false);
    expect(spreads(129, 128)).toBe(true);
  });
});

describe('partRange and batchBytes', () => {
  it('gives inclusive byte ranges, the last one short', () => {
    expect(partRange(1, 5 * MiB, 12 * MiB)).toEqual({ start: 0, end: 5 * MiB - 1 });
    expect(partRange(3, 5 * MiB, 12 * MiB)).toEqual({ start: 10 * MiB, end: 12 * MiB - 1 });
    expect(batchBytes({ first: 2, last: 3 }, 5 * MiB, 12 * MiB)).toBe(7 * MiB);
  });
});

describe('partsItemId', () => {
  it('names the pair, key and parts; hashes keys too long for an id', () => {
    expect(partsItemId(0, 'a/b.bin', { first: 2, last: 3 })).toBe('parts:0:a/b.bin#2-3');
    const long = partsItemId(1, 'k'.repeat(1000), { first: 4, last: 4 });
    expect(long).toMatch(/^parts:1:sha256:[0-9a-f]{64}#4-4$/);
  });
});

describe('multipartEtag', () => {
  it("is S3's: md5 of the binary part md5s, dash, count", () => {
    const parts = [Buffer.from('hello '), Buffer.from('world')];
    const etags = parts.map((p) => `"${md5(p)}"`);
    const expected = createHash('md5')
      .update(Buffer.concat(parts.map((p) => createHash('md5').update(p).digest())))
      .digest('hex');
    expect(multipartEtag(etags)).toBe(`${expected}-2`);
    // order matters: a completion with the parts swapped has another ETag
    expect(multipartEtag([...etags].reverse())).not.toBe(`${expected}-2`);
  });
  it('is predictable only from plain MD5 part ETags (not SSE-KMS ones)', () => {
    expect(predictableEtags([md5(Buffer.from('x'))])).toBe(true);
    expect(predictableEtags(['opaque-kms-etag'])).toBe(false);
  });
});
