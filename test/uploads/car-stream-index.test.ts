/**
 * The streaming CAR indexer on its own: positions match the CAR encoder's, whatever the chunking
 * of the stream; corrupt and truncated shards are SHARD_CORRUPT (permanent); errors of the source
 * stream pass through unclassified.
 */
import { describe, expect, it } from 'vitest';
import { ConvoyError } from '../../shared/errors.js';
import { contentBytes, encodeShards } from '../../worker/jobs/uploads/seed/dag.js';
import { indexCarStream } from '../../worker/jobs/uploads/car-stream-index.js';

async function oneShard(size: number): Promise<Uint8Array> {
  const shards: Uint8Array[] = [];
  await encodeShards(
    contentBytes(`unit-${size}`, size),
    'v1-raw',
    64 * 1024 * 1024,
    async (s) => void shards.push(s.bytes),
  );
  expect(shards).toHaveLength(1);
  return shards[0]!;
}

async function* chunked(bytes: Uint8Array, chunk: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += chunk) yield bytes.subarray(i, Math.min(bytes.length, i + chunk));
}

describe('indexCarStream', () => {
  it('gives the same index for any chunking of the stream', async () => {
    const car = await oneShard(3 * 1024 * 1024 + 12345);
    const whole = await indexCarStream(chunked(car, car.length));
    expect(whole.size).toBe(car.length);
    expect(whole.slices.length).toBe(5); // 4 leaves + the root node
    for (const size of [1, 7, 4096, 65536, 1 << 20]) {
      if (size === 1) {
        // byte by byte is slow for MiBs: check on a small shard instead
        const small = await oneShard(3000);
        const a = await indexCarStream(chunked(small, 1));
        const b = await indexCarStream(chunked(small, small.length));
        expect(a).toEqual(b);
        continue;
      }
      expect(await indexCarStream(chunked(car, size))).toEqual(whole);
    }
  });

  it('rejects a block whose bytes do not match its CID as SHARD_CORRUPT', async () => {
    const car = Uint8Array.from(await oneShard(2 * 1024 * 1024));
    const slice = (await indexCarStream(chunked(car, 65536))).slices[0]!;
    car[slice[1] + 100]! ^= 0xff;
    const err = await indexCarStream(chunked(car, 65536)).catch((e) => e);
    expect(err).toBeInstanceOf(ConvoyError);
    expect(err.errorClass).toBe('SHARD_CORRUPT');
    expect(err.retryable).toBe(false);
    expect(err.message).toMatch(/do not match its CID/);
  });

  it('rejects a truncated CAR as SHARD_CORRUPT (inside the last block and inside a block header)', async () => {
    const car = await oneShard(2 * 1024 * 1024);
    for (const cut of [car.length - 10, car.length - 300_000, 20]) {
      const err = await indexCarStream(chunked(car.subarray(0, cut), 65536)).catch((e) => e);
      expect(err?.errorClass, `cut at ${cut}`).toBe('SHARD_CORRUPT');
    }
  });

  it('passes source errors through for the caller to classify', async () => {
    const car = await oneShard(1024 * 1024);
    const boom = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    async function* failing() {
      yield car.subarray(0, 1000);
      throw boom;
    }
    await expect(indexCarStream(failing())).rejects.toBe(boom);
  });
});
