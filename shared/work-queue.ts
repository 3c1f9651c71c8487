/**
 * The work queue: SQS messages that point at item rows (never the data). One item per message;
 * sends go out as SendMessageBatch of 10 with many batches in flight; deletes are batched too.
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
import { z } from 'zod';
import type { StateConfig } from './config.js';
import { InputError } from './errors.js';

export const messageSchema = z.object({ v: z.literal(1), runId: z.string().min(1), itemId: z.string().min(1) });
export type WorkMessage = z.infer<typeof messageSchema>;

export interface ItemRef {
  runId: string;
  itemId: string;
}

export interface ReceivedMessage {
  /** undefined when the body is not a valid work message */
  ref: ItemRef | undefined;
  body: string;
  receiptHandle: string;
  messageId: string;
  receiveCount: number;
}

export interface QueueDepth {
  visible: number;
  inFlight: number;
  delayed: number;
  dlqVisible: number;
}

export async function resolveQueueUrls(sqs: SQSClient, state: StateConfig): Promise<{ queueUrl: string; dlqUrl: string }> {
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

  constructor(
    readonly sqs: SQSClient,
    readonly queueUrl: string,
    readonly dlqUrl: string,
  ) {}

  /** Send one message per item, 10 per batch, 16 batches in flight; failed entries are retried. */
  async sendItems(refs: ItemRef[], opts: { delaySeconds?: number; toDlq?: boolean } = {}): Promise<void> {
    const url = opts.toDlq ? this.dlqUrl : this.queueUrl;
    const batches: ItemRef[][] = [];
    for (let i = 0; i < refs.length; i += 10) batches.push(refs.slice(i, i + 10));
    await Promise.all(
      batches.map((batch) =>
        this.sendLimit(async () => {
          let entries = batch.map((ref, i) => ({
            Id: String(i),
            MessageBody: JSON.stringify({ v: 1, runId: ref.runId, itemId: ref.itemId } satisfies WorkMessage),
            DelaySeconds: opts.delaySeconds,
          }));
          for (let attempt = 0; entries.length; attempt++) {
            const out = await this.sqs.send(new SendMessageBatchCommand({ QueueUrl: url, Entries: entries }));
            const failed = new Set((out.Failed ?? []).map((f) => f.Id));
            entries = entries.filter((e) => failed.has(e.Id));
            if (entries.length) {
              if (attempt >= 8) throw new Error(`SendMessageBatch kept failing for ${entries.length} entries`);
              await new Promise((r) => setTimeout(r, Math.random() * 100 * 2 ** attempt));
            }
          }
        }),
      ),
    );
  }

  async receive(opts: { max: number; waitSeconds: number; visibilitySeconds: number; signal?: AbortSignal; fromDlq?: boolean }): Promise<ReceivedMessage[]> {
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
        ref: parsed,
        body: m.Body ?? '',
        receiptHandle: m.ReceiptHandle!,
        messageId: m.MessageId!,
        receiveCount: Number(m.Attributes?.ApproximateReceiveCount ?? '1'),
      };
    });
  }

  /** Delete a message; deletes within 20 ms are sent as one DeleteMessageBatch. */
  delete(receiptHandle: string, fromDlq = false): Promise<void> {
    if (fromDlq) return this.deleteNow([receiptHandle], this.dlqUrl);
    return new Promise((resolve, reject) => {
      this.deleteBuffer.push({ handle: receiptHandle, resolve, reject });
      if (this.deleteBuffer.length >= 10) this.flushDeletes();
      else this.deleteTimer ??= setTimeout(() => this.flushDeletes(), 20);
    });
  }

  private flushDeletes(): void {
    clearTimeout(this.deleteTimer);
    this.deleteTimer = undefined;
    while (this.deleteBuffer.length) {
      const batch = this.deleteBuffer.splice(0, 10);
      this.deleteNow(batch.map((b) => b.handle), this.queueUrl).then(
        () => batch.forEach((b) => b.resolve()),
        (err) => batch.forEach((b) => b.reject(err)),
      );
    }
  }

  private async deleteNow(handles: string[], url: string): Promise<void> {
    let entries = handles.map((h, i) => ({ Id: String(i), ReceiptHandle: h }));
    for (let attempt = 0; entries.length; attempt++) {
      const out = await this.sqs.send(new DeleteMessageBatchCommand({ QueueUrl: url, Entries: entries }));
      // A receipt handle that is no longer valid (message already redelivered) fails for good.
      const retry = new Set((out.Failed ?? []).filter((f) => f.SenderFault === false).map((f) => f.Id));
      entries = entries.filter((e) => retry.has(e.Id));
      if (entries.length && attempt >= 5) throw new Error(`DeleteMessageBatch kept failing for ${entries.length} entries`);
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
          Entries: batch.map((h, j) => ({ Id: String(j), ReceiptHandle: h, VisibilityTimeout: clampVisibility(seconds) })),
        }),
      );
      for (const f of out.Failed ?? []) failed.add(batch[Number(f.Id)]!);
    }
    return failed;
  }

  /** Move a message to the DLQ: send the copy first, then delete the original (never lose it). */
  async moveToDlq(msg: ReceivedMessage): Promise<void> {
    if (msg.ref) await this.sendItems([msg.ref], { toDlq: true });
    else await this.sqs.send(new SendMessageBatchCommand({ QueueUrl: this.dlqUrl, Entries: [{ Id: '0', MessageBody: msg.body }] }));
    await this.delete(msg.receiptHandle);
  }

  async depth(): Promise<QueueDepth> {
    const attrs = async (url: string) =>
      (
        await this.sqs.send(
          new GetQueueAttributesCommand({
            QueueUrl: url,
            AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
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

function safeParse(body: string): ItemRef | undefined {
  try {
    const parsed = messageSchema.safeParse(JSON.parse(body));
    return parsed.success ? { runId: parsed.data.runId, itemId: parsed.data.itemId } : undefined;
  } catch {
    return undefined;
  }
}

/** SQS allows 0..43200 s (12 h). */
export function clampVisibility(seconds: number): number {
  return Math.max(0, Math.min(43_200, Math.ceil(seconds)));
}
