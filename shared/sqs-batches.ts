/**
 * SQS's limits on one SendMessageBatch: at most 10 entries and 256 KiB (262,144 bytes) for the
 * bodies and attributes of all of them together, and one message at most 256 KiB. convoy's
 * messages are pointers (a run id and an item id of at most 1,024 bytes, \u-escaped: a few KiB
 * at worst) with at most a hint beside them (work-queue.ts MESSAGE_HINT_MAX_CHARS, 56 KiB: an
 * s3-sync range's carried listing, ~13 KB for 500 keys), so a batch of 10 can pass the byte
 * limit: splitting by bytes as well keeps every batch within it. https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html
 */

export const SQS_BATCH_MAX_ENTRIES = 10;
export const SQS_BATCH_MAX_BYTES = 256 * 1024;

/**
 * Split messages into batches of at most `maxEntries` entries and `maxBytes` of bodies (UTF-8),
 * in order. A message larger than `maxBytes` alone is an error (SQS would refuse it).
 */
export function sqsBatches<T>(
  messages: readonly T[],
  bodyOf: (m: T) => string,
  limits: { maxEntries?: number; maxBytes?: number } = {},
): T[][] {
  const maxEntries = limits.maxEntries ?? SQS_BATCH_MAX_ENTRIES;
  const maxBytes = limits.maxBytes ?? SQS_BATCH_MAX_BYTES;
  const batches: T[][] = [];
  let batch: T[] = [];
  let bytes = 0;
  for (const m of messages) {
    const size = Buffer.byteLength(bodyOf(m));
    if (size > maxBytes) throw new Error(`an SQS message of ${size} bytes is over the ${maxBytes}-byte limit`);
    if (batch.length === maxEntries || bytes + size > maxBytes) {
      batches.push(batch);
      batch = [];
      bytes = 0;
    }
    batch.push(m);
    bytes += size;
  }
  if (batch.length) batches.push(batch);
  return batches;
}
