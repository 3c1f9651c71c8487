/**
 * The table jobs' writer: BatchWriteItem in batches of 25, several batches in flight, and nothing
 * ever dropped: UnprocessedItems and throttling errors are retried with exponential backoff and
 * full jitter until written (a loader that drops UnprocessedItems loses data silently). With a
 * CapacityBudget, each batch waits for its estimated WCUs and the reported ConsumedCapacity
 * settles the estimate.
 *
 * Before anything is sent, the items are checked (size <= 400 KB, key attributes present) and
 * de-duplicated by key (BatchWriteItem rejects a batch holding one key twice; the last put wins,
 * as it would have with single puts). A bad item fails the whole call with a permanent error that
 * names its key, so the caller's item fails and says which row.
 */
import { BatchWriteItemCommand, type DynamoDBClient, type WriteRequest } from '@aws-sdk/client-dynamodb';
import pLimit from 'p-limit';
import { drainBatch } from '../../../shared/backoff.js';
import { ConvoyError, ThrottledError, classifyError } from '../../../shared/errors.js';
import type { RateGate } from '../../budget/adaptive-rates.js';
import type { CapacityBudget } from '../../budget/capacity-budget.js';
import { itemSize, keyText, MAX_ITEM_BYTES, writeUnits, type AttributeMap } from '../../../shared/item-size.js';

export interface BatchWriterOptions {
  client: DynamoDBClient;
  table: string;
  /** the destination's key attributes (hash first) */
  keys: string[];
  budget?: CapacityBudget;
  /** adaptive rate control of the destination table (in estimated WCU): told of every throttle */
  rates?: RateGate;
  /** batches in flight per writeAll call. @defaultValue 8 */
  concurrency?: number;
  /** backoff for UnprocessedItems and throttling. @defaultValue base 50 ms, cap 5 s */
  backoff?: { baseMs: number; capMs: number };
  /**
   * Retries of one batch before giving up with a retryable ThrottledError (the caller's item is
   * retried later; nothing past its checkpoint was recorded as written). @defaultValue 40
   */
  maxRetries?: number;
  signal?: AbortSignal;
  /** called before each request: the worker's lease check */
  beforeSend?: () => void;
}

export interface WriteStats {
  written: number;
  bytes: number;
  duplicateKeys: number;
  unprocessedRetries: number;
  throttles: number;
  consumedWcu: number;
}

export const emptyStats = (): WriteStats => ({
  written: 0,
  bytes: 0,
  duplicateKeys: 0,
  unprocessedRetries: 0,
  throttles: 0,
  consumedWcu: 0,
});

const THROTTLE_NAMES = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'LimitExceededException',
]);

export function isThrottle(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return THROTTLE_NAMES.has(e?.name ?? '') || e?.$metadata?.httpStatusCode === 429;
}

/** Check sizes and keys; returns the puts de-duplicated by key (last wins) with their sizes. */
export function preparePuts(
  items: AttributeMap[],
  keys: string[],
): { puts: { item: AttributeMap; bytes: number }[]; duplicates: number } {
  const byKey = new Map<string, { item: AttributeMap; bytes: number }>();
  for (const item of items) {
    for (const k of keys) {
      const v = item[k];
      if (!v || (v.S === undefined && v.N === undefined && v.B === undefined) || v.S === '') {
        throw new ConvoyError(
          'MISSING_KEY',
          `item has no usable key attribute "${k}" (needs a non-empty string, number or binary): ${keyText(item, keys)}`,
          {
            retryable: false,
            context: { key: keyText(item, keys) },
          },
        );
      }
    }
    const bytes = itemSize(item);
    if (bytes > MAX_ITEM_BYTES) {
      throw new ConvoyError(
        'ITEM_TOO_LARGE',
        `item ${keyText(item, keys)} is ${bytes} bytes, over DynamoDB's 400 KB limit`,
        {
          retryable: false,
          context: { key: keyText(item, keys), bytes },
        },
      );
    }
    byKey.set(keys.map((k) => JSON.stringify(item[k])).join('|'), { item, bytes });
  }
  return { puts: [...byKey.values()], duplicates: items.length - byKey.size };
}

export class BatchWriter {
  private readonly o: Required<Omit<BatchWriterOptions, 'budget' | 'signal' | 'beforeSend' | 'rates'>> &
    Pick<BatchWriterOptions, 'budget' | 'signal' | 'beforeSend' | 'rates'>;

  constructor(opts: BatchWriterOptions) {
    this.o = { concurrency: 8, backoff: { baseMs: 50, capMs: 5_000 }, maxRetries: 40, ...opts };
  }

  /** Write every item (durably, when this resolves); stats are added to `stats`. */
  async writeAll(items: AttributeMap[], stats: WriteStats = emptyStats()): Promise<WriteStats> {
    const { puts, duplicates } = preparePuts(items, this.o.keys);
    stats.duplicateKeys += duplicates;
    const limit = pLimit(this.o.concurrency);
    const batches: (typeof puts)[] = [];
    for (let i = 0; i < puts.length; i += 25) batches.push(puts.slice(i, i + 25));
    await Promise.all(batches.map((b) => limit(() => this.writeBatch(b, stats))));
    return stats;
  }

  private async writeBatch(batch: { item: AttributeMap; bytes: number }[], stats: WriteStats): Promise<void> {
    let estimate = 0;
    for (const p of batch) estimate += writeUnits(p.bytes);
    // one call: returns what is left to write (UnprocessedItems, or all of it when throttled)
    const send = async (pending: WriteRequest[]): Promise<WriteRequest[]> => {
      // estimate for what is left: proportional share of the batch
      const units = Math.max(1, Math.round((estimate * pending.length) / batch.length));
      if (this.o.budget) await this.o.budget.acquire(units, this.o.signal);
      await this.o.rates?.acquire(units);
      this.o.beforeSend?.();
      try {
        const out = await this.o.client.send(
          // ConsumedCapacity only when a budget needs it (it costs the service a little per call)
          new BatchWriteItemCommand({
            RequestItems: { [this.o.table]: pending },
            ReturnConsumedCapacity: this.o.budget ? 'TOTAL' : undefined,
          }),
          { abortSignal: this.o.signal },
        );
        const consumed = out.ConsumedCapacity?.reduce((a, c) => a + (c.CapacityUnits ?? 0), 0);
        const left = out.UnprocessedItems?.[this.o.table] ?? [];
        const writtenNow = pending.length - left.length;
        stats.written += writtenNow;
        stats.consumedWcu += consumed ?? 0;
        if (this.o.budget && consumed !== undefined) this.o.budget.settle(units, consumed);
        if (left.length) {
          stats.unprocessedRetries++;
          // UnprocessedItems is how DynamoDB throttles a batch: it counts as throttling
          this.o.rates?.throttled();
        }
        return left;
      } catch (err) {
        if (!isThrottle(err)) {
          const c = classifyError(err);
          throw c.errorClass === 'UNKNOWN' && (err as Error).name === 'ValidationException'
            ? new ConvoyError(
                'WRITE_REJECTED',
                `BatchWriteItem to ${this.o.table} rejected: ${(err as Error).message}`,
                { retryable: false, cause: err },
              )
            : c;
        }
        stats.throttles++;
        this.o.rates?.throttled();
        // nothing of this batch was written: give the budget's tokens back
        if (this.o.budget) this.o.budget.settle(units, 0);
        return pending;
      }
    };
    await drainBatch(
      batch.map((p): WriteRequest => ({ PutRequest: { Item: p.item } })),
      send,
      {
        backoff: this.o.backoff,
        maxRetries: this.o.maxRetries,
        signal: this.o.signal,
        exhausted: (left) =>
          new ThrottledError(
            `${left} item(s) still unprocessed after ${this.o.maxRetries} retries writing ${this.o.table}`,
          ),
      },
    );
    for (const p of batch) stats.bytes += p.bytes;
  }
}
