/**
 * The work queue: SQS messages that point at item rows (never the data; a kind may attach an
 * advisory hint to an item's first message, OutgoingItem). One item per message;
 * sends go out as SendMessageBatch of up to 10 (and 256 KiB) with many batches in flight; deletes
 * are batched too.
 * The same class talks to AWS SQS and to fauxqs; only the URLs differ.
 */
import {
  ChangeMessageVisibilityBatchCommand,
  ChangeMessageVisibilityCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import pLimit from 'p-limit';
import * as z from 'zod';
import { drainBatch } from './backoff.js';
import type { StateConfig } from './config.js';
import { InputError } from './errors.js';
import { sqsBatches } from './sqs-batches.js';

/**
 * Receives of one message before SQS moves it to the DLQ, for the local stack and the CDK alike.
 * A safety net only: an item's attempts (--max-attempts) decide when a failing item stops (and its message goes to
 * the DLQ), and deliveries a worker does not act on (another run's item, a held lease) are re-sent
 * as fresh messages, so they never count. What is left to count: duplicate deliveries and
 * receives lost to crashes. It must stay above any run's max attempts (at most 100).
 */
export const MAX_RECEIVE_COUNT = 100;

/**
 * The longest hint a message carries (characters; hints are ASCII, e.g. base64). With the rest of
 * the body (an item id of at most 1,024 bytes, \u-escaped) a message stays within 64 KiB, the size
 * SQS bills as one request. A longer hint is left out: a hint is advisory, its item is whole
 * without it.
 */
export const MESSAGE_HINT_MAX_CHARS = 56 * 1024;

export const messageSchema = z.object({
  v: z.literal(1),
  runId: z.string().min(1),
  itemId: z.string().min(1),
  hint: z.string().optional(),
});
export type WorkMessage = z.infer<typeof messageSchema>;

/** What a message points at, and what events and leases name: one item of one run. */
export interface ItemRef {
  runId: string;
  itemId: string;
}

/**
 * An item to send: its ref, and the hint its kind attached when it cut the item (NewItem.hint),
 * which rides in this message only (the item row never holds it; a re-send by reconcile or
 * requeue has none).
 */
export interface OutgoingItem extends ItemRef {
  hint?: string;
}

export interface ReceivedMessage {
  /** undefined when the body is not a valid work message */
  ref: ItemRef | undefined;
  /** the hint the message carries (OutgoingItem.hint), if any */
  hint?: string;
  body: string;
  receiptHandle: string;
  messageId: string;
  receiveCount: number;
  /** until when the receive hid it at least (its visibility, counted from before the request) */
  hiddenUntilMs: number;
}

export interface QueueDepth {
  visible: number;
  inFlight: number;
  delayed: number;
  dlqVisible: number;
}

export async function resolveQueueUrls(
  sqs: SQSClient,
  state: StateConfig,
): Promise<{ queueUrl: string; dlqUrl: string }> {
  const lookup = async (name: string, what: string) => {
    try {
      const out = await sqs.send(new GetQueueUrlCommand({ QueueName: name }));
      return out.QueueUrl!;
    } catch (err) {
      throw new InputError(
        `the ${what} "${name}" was not found (${(err as Error).name}); create it (convoy local up, or the CDK app in infra/) or set state.${what === 'work queue' ? 'queueUrl' : 'dlqUrl'} in the config`,
        { cause: err },
      );
    }
  };
  return {
    queueUrl: state.queueUrl ?? (await lookup(state.queueName, 'work queue')),
    dlqUrl: state.dlqUrl ?? (await lookup(state.dlqName, 'dead-letter queue')),
  };
}

export class WorkQueue {
  private readonly sendLimit = pLimit(16);
  private deleteBuffer: Array<{ handle: string; resolve: () => void; reject: (e: unknown) => void }> = [];
  private deleteTimer: NodeJS.Timeout | undefined;
  /** when the pending timer fires (the earliest due delete in the buffer) */
  private deleteDueAtMs = 0;
  private readonly deletesInFlight = new Set<Promise<void>>();

  constructor(
    readonly sqs: SQSClient,
    readonly queueUrl: string,
    readonly dlqUrl: string,
  ) {}

  /**
   * Send one message per item, batches of 10 (or fewer, to stay within SendMessageBatch's 256 KiB:
   * ./sqs-batches.ts), 16 batches in flight; failed entries are retried.
   */
  async sendItems(refs: OutgoingItem[], opts: { delaySeconds?: number; toDlq?: boolean } = {}): Promise<void> {
    const url = opts.toDlq ? this.dlqUrl : this.queueUrl;
    const bodies = refs.map((ref) => messageBody(ref));
    const batches = sqsBatches(bodies, (b) => b);
    await Promise.all(
      batches.map((batch) =>
        this.sendLimit(async () => {
          const entries = batch.map((body, i) => ({
            Id: String(i),
            MessageBody: body,
            DelaySeconds: opts.delaySeconds,
          }));
          const send = async (pending: typeof entries) => {
            const out = await this.sqs.send(new SendMessageBatchCommand({ QueueUrl: url, Entries: pending }));
            const failed = new Set((out.Failed ?? []).map((f) => f.Id));
            return pending.filter((e) => failed.has(e.Id));
          };
          await drainBatch(entries, send, {
            backoff: { baseMs: 100, capMs: 12_800 },
            maxRetries: 8,
            exhausted: (left) => new Error(`SendMessageBatch kept failing for ${left} entries`),
          });
        }),
      ),
    );
  }

  async receive(opts: {
    max: number;
    waitSeconds: number;
    visibilitySeconds: number;
    signal?: AbortSignal;
    fromDlq?: boolean;
  }): Promise<ReceivedMessage[]> {
    const sentAtMs = Date.now();
    const out = await this.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: opts.fromDlq ? this.dlqUrl : this.queueUrl,
        MaxNumberOfMessages: Math.max(1, Math.min(10, opts.max)),
        WaitTimeSeconds: opts.waitSeconds,
        VisibilityTimeout: opts.visibilitySeconds,
        MessageSystemAttributeNames: ['ApproximateReceiveCount'],
      }),
      { abortSignal: opts.signal },
    );
    return (out.Messages ?? []).map((m) => {
      const parsed = safeParse(m.Body ?? '');
      return {
        ref: parsed?.ref,
        ...(parsed?.hint !== undefined ? { hint: parsed.hint } : {}),
        body: m.Body ?? '',
        receiptHandle: m.ReceiptHandle!,
        messageId: m.MessageId!,
        receiveCount: Number(m.Attributes?.ApproximateReceiveCount ?? '1'),
        hiddenUntilMs: sentAtMs + opts.visibilitySeconds * 1000,
      };
    });
  }

  /**
   * Delete a message. Deletes are buffered and sent 10 to a DeleteMessageBatch: the buffer goes
   * out when it holds 10, or when the most urgent delete in it is due, `withinMs` after it was
   * asked for (20 ms by default, for callers that wait on it). A worker completing an item passes
   * a longer time and does not wait: the item row already says done, so a message that outlives
   * its worker (kill -9 before the batch went out) is redelivered and skipped by the claim, and
   * in a busy worker the deletes of several items share one request (one per item before: items
   * of a worker seldom end within 20 ms of each other).
   */
  delete(receiptHandle: string, fromDlq = false, withinMs = 20): Promise<void> {
    if (fromDlq) return this.deleteNow([receiptHandle], this.dlqUrl);
    return new Promise((resolve, reject) => {
      this.deleteBuffer.push({ handle: receiptHandle, resolve, reject });
      if (this.deleteBuffer.length >= 10) return this.flushDeletes();
      const dueAtMs = Date.now() + withinMs;
      if (this.deleteTimer && dueAtMs >= this.deleteDueAtMs) return;
      clearTimeout(this.deleteTimer);
      this.deleteDueAtMs = dueAtMs;
      this.deleteTimer = setTimeout(() => this.flushDeletes(), withinMs);
    });
  }

  /** Send every buffered delete now and wait for all deletes in flight (shutdown, idle). */
  async settleDeletes(): Promise<void> {
    this.flushDeletes();
    await Promise.allSettled([...this.deletesInFlight]);
  }

  private flushDeletes(): void {
    clearTimeout(this.deleteTimer);
    this.deleteTimer = undefined;
    while (this.deleteBuffer.length) {
      const batch = this.deleteBuffer.splice(0, 10);
      const sent = this.deleteNow(
        batch.map((b) => b.handle),
        this.queueUrl,
      ).then(
        () => batch.forEach((b) => b.resolve()),
        (err) => batch.forEach((b) => b.reject(err)),
      );
      this.deletesInFlight.add(sent);
      void sent.finally(() => this.deletesInFlight.delete(sent));
    }
  }

  private async deleteNow(handles: string[], url: string): Promise<void> {
    let entries = handles.map((h, i) => ({ Id: String(i), ReceiptHandle: h }));
    for (let attempt = 0; entries.length; attempt++) {
      const out = await this.sqs.send(new DeleteMessageBatchCommand({ QueueUrl: url, Entries: entries }));
      // A receipt handle that is no longer valid (message already redelivered) fails for good.
      const retry = new Set((out.Failed ?? []).filter((f) => f.SenderFault === false).map((f) => f.Id));
      entries = entries.filter((e) => retry.has(e.Id));
      if (entries.length && attempt >= 5)
        throw new Error(`DeleteMessageBatch kept failing for ${entries.length} entries`);
    }
  }

  async changeVisibility(receiptHandle: string, seconds: number, fromDlq = false): Promise<void> {
    await this.sqs.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: fromDlq ? this.dlqUrl : this.queueUrl,
        ReceiptHandle: receiptHandle,
        VisibilityTimeout: clampVisibility(seconds),
      }),
    );
  }

  /** Extend many messages at once (the heartbeat); returns the receipt handles that failed. */
  async changeVisibilityMany(handles: string[], seconds: number): Promise<Set<string>> {
    const failed = new Set<string>();
    for (let i = 0; i < handles.length; i += 10) {
      const batch = handles.slice(i, i + 10);
      const out = await this.sqs.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: this.queueUrl,
          Entries: batch.map((h, j) => ({
            Id: String(j),
            ReceiptHandle: h,
            VisibilityTimeout: clampVisibility(seconds),
          })),
        }),
      );
      for (const f of out.Failed ?? []) failed.add(batch[Number(f.Id)]!);
    }
    return failed;
  }

  /** Move a message to the DLQ: send the copy first, then delete the original (never lose it). */
  async moveToDlq(msg: ReceivedMessage): Promise<void> {
    if (msg.ref) await this.sendItems([msg.ref], { toDlq: true });
    else
      await this.sqs.send(
        new SendMessageBatchCommand({ QueueUrl: this.dlqUrl, Entries: [{ Id: '0', MessageBody: msg.body }] }),
      );
    await this.delete(msg.receiptHandle);
  }

  /**
   * Hand a message back for later as a FRESH message (delayed `delaySeconds`, at most 900) and
   * delete the received one. For deliveries this worker will not act on while the item is still
   * pending (another run's item, an item held by a live lease): hiding the received message
   * instead would count every such receive toward the queue's maxReceiveCount and, after enough
   * of them, SQS would move a message of a perfectly healthy pending item to the DLQ. A new
   * message starts at receive count 0; the delay keeps this from becoming a tight loop. The copy
   * is sent before the original is deleted: a crash in between leaves a duplicate (harmless: the
   * claim decides), never nothing.
   */
  async redeliverLater(msg: ReceivedMessage, delaySeconds: number): Promise<void> {
    const delay = Math.max(0, Math.min(900, Math.ceil(delaySeconds)));
    await this.sqs
      .send(
        new SendMessageBatchCommand({
          QueueUrl: this.queueUrl,
          Entries: [{ Id: '0', MessageBody: msg.body, DelaySeconds: delay }],
        }),
      )
      .then((out) => {
        if (out.Failed?.length)
          throw new Error(
            `re-sending message ${msg.messageId} failed: ${out.Failed[0]!.Message ?? out.Failed[0]!.Code}`,
          );
      });
    await this.delete(msg.receiptHandle);
  }

  /**
   * Look at up to `max` DLQ messages without taking them: receives with visibility 0 (nothing is
   * hidden from requeue/reconcile), deduplicated by message id, until a round brings nothing new.
   * SQS cannot list a queue, so on a large DLQ this is a sample, which is what a monitor view needs.
   */
  async peekDlq(max = 100): Promise<ReceivedMessage[]> {
    const seen = new Map<string, ReceivedMessage>();
    for (let round = 0; seen.size < max && round < Math.ceil(max / 10) + 2; round++) {
      const msgs = await this.receive({ max: 10, waitSeconds: 0, visibilitySeconds: 0, fromDlq: true });
      const fresh = msgs.filter((m) => !seen.has(m.messageId));
      if (!fresh.length) break;
      for (const m of fresh) seen.set(m.messageId, m);
    }
    return [...seen.values()].slice(0, max);
  }

  /**
   * Drain the DLQ once, asking `decide` about each message: 'delete' removes it, 'redrive' sends
   * it to the work queue as a fresh message (receive count 0) and then removes it, 'keep' leaves
   * it (made visible again at the end, so a second sweep right after this one sees it).
   * Bounded by rounds: SQS has no "receive by attribute".
   */
  async sweepDlq(
    decide: (msg: ReceivedMessage) => Promise<'delete' | 'redrive' | 'keep'>,
  ): Promise<{ deleted: number; redriven: number }> {
    const result = { deleted: 0, redriven: 0 };
    const keep: string[] = [];
    for (let round = 0; round < 1000; round++) {
      const msgs = await this.receive({ max: 10, waitSeconds: 0, visibilitySeconds: 30, fromDlq: true });
      if (!msgs.length) break;
      for (const m of msgs) {
        const verdict = await decide(m);
        if (verdict === 'keep') {
          keep.push(m.receiptHandle);
          continue;
        }
        if (verdict === 'redrive' && m.ref) {
          await this.sendItems([m.ref]);
          result.redriven++;
        } else result.deleted++;
        await this.delete(m.receiptHandle, true);
      }
    }
    await Promise.all(keep.map((h) => this.changeVisibility(h, 0, true).catch(() => undefined)));
    return result;
  }

  async depth(): Promise<QueueDepth> {
    const attrs = async (url: string) =>
      (
        await this.sqs.send(
          new GetQueueAttributesCommand({
            QueueUrl: url,
            AttributeNames: [
              'ApproximateNumberOfMessages',
              'ApproximateNumberOfMessagesNotVisible',
              'ApproximateNumberOfMessagesDelayed',
            ],
          }),
        )
      ).Attributes ?? {};
    const [main, dlq] = await Promise.all([attrs(this.queueUrl), attrs(this.dlqUrl)]);
    return {
      visible: Number(main.ApproximateNumberOfMessages ?? 0),
      inFlight: Number(main.ApproximateNumberOfMessagesNotVisible ?? 0),
      delayed: Number(main.ApproximateNumberOfMessagesDelayed ?? 0),
      dlqVisible: Number(dlq.ApproximateNumberOfMessages ?? 0),
    };
  }
}

/** The body of an item's message: the pointer, and its hint when there is one that fits. */
export function messageBody(item: OutgoingItem): string {
  const message: WorkMessage = { v: 1, runId: item.runId, itemId: item.itemId };
  if (item.hint && item.hint.length <= MESSAGE_HINT_MAX_CHARS) message.hint = item.hint;
  // \u-escaped past ASCII: item ids carry S3 keys, and SQS refuses U+FFFE/U+FFFF (fauxqs also
  // everything above U+FFFF, e.g. emoji); JSON.parse reads it back unchanged
  return JSON.stringify(message).replace(
    /[\u007f-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

function safeParse(body: string): { ref: ItemRef; hint?: string } | undefined {
  try {
    const parsed = messageSchema.safeParse(JSON.parse(body));
    if (!parsed.success) return undefined;
    const ref = { runId: parsed.data.runId, itemId: parsed.data.itemId };
    // a hint is advisory: one that is not ours to trust by size is ignored, not the message
    const hint = parsed.data.hint;
    return hint === undefined || hint.length > MESSAGE_HINT_MAX_CHARS ? { ref } : { ref, hint };
  } catch {
    return undefined;
  }
}

/** SQS allows 0..43200 s (12 h). */
export function clampVisibility(seconds: number): number {
  return Math.max(0, Math.min(43_200, Math.ceil(seconds)));
}
