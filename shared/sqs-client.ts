/**
 * The work queue's SQS client: the SDK's SQSClient, whose per-item commands (receive, the batched
 * deletes, visibility changes and sends of shared/work-queue.ts) go out as lean signed requests
 * (./aws-json-requests.ts, where the measurement is), and every other command (queue URLs,
 * attributes, purges) through the SDK as before.
 *
 * The JSON protocol's shapes are the SDK's for these commands (no timestamps; message attributes
 * with binary values, which convoy does not send, go through the SDK), and the SDK's checks of
 * MD5OfBody on received and sent messages are kept.
 */
import { createHash } from 'node:crypto';
import {
  ChangeMessageVisibilityBatchCommand,
  ChangeMessageVisibilityCommand,
  DeleteMessageBatchCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SQSClient,
  type Message,
  type SendMessageBatchRequestEntry,
  type SendMessageBatchResultEntry,
  type SQSClientConfig,
} from '@aws-sdk/client-sqs';
import { AwsJsonError, AwsJsonRequests, type ResolvedSdkConfig } from './aws-json-requests.js';

const LEAN = [
  { command: ReceiveMessageCommand, action: 'ReceiveMessage' },
  { command: DeleteMessageBatchCommand, action: 'DeleteMessageBatch' },
  { command: DeleteMessageCommand, action: 'DeleteMessage' },
  { command: ChangeMessageVisibilityBatchCommand, action: 'ChangeMessageVisibilityBatch' },
  { command: ChangeMessageVisibilityCommand, action: 'ChangeMessageVisibility' },
  { command: SendMessageBatchCommand, action: 'SendMessageBatch' },
] as const;

type Wire = Record<string, unknown>;

export class StateSqsClient extends SQSClient {
  private readonly requests: AwsJsonRequests;

  constructor(config: SQSClientConfig & { maxAttempts: number }, opts: { maxSockets?: number } = {}) {
    super(config);
    this.requests = new AwsJsonRequests(this.config as unknown as ResolvedSdkConfig, {
      service: 'sqs',
      targetPrefix: 'AmazonSQS',
      maxAttempts: config.maxAttempts,
      maxSockets: opts.maxSockets,
      headers: { 'x-amzn-query-mode': 'true' },
    });
  }

  // biome-ignore lint/suspicious/noExplicitAny: the overloads of Client.send
  override send(command: any, options?: any, cb?: any): any {
    if (typeof options !== 'function' && cb === undefined) {
      const lean = LEAN.find((l) => command instanceof l.command);
      if (lean && !hasMessageAttributes(command.input as Wire)) {
        return this.sendLean(lean.action, command.input as Wire, options?.abortSignal as AbortSignal | undefined);
      }
    }
    return super.send(command, options, cb);
  }

  private async sendLean(action: string, input: Wire, signal: AbortSignal | undefined): Promise<Wire> {
    const out = await this.requests.call<Wire>(action, input, signal);
    if (action === 'ReceiveMessage') checkReceived((out.Messages as Message[] | undefined) ?? []);
    if (action === 'SendMessageBatch') {
      checkSent(
        input.Entries as SendMessageBatchRequestEntry[],
        (out.Successful as SendMessageBatchResultEntry[]) ?? [],
      );
    }
    return { ...out, $metadata: { httpStatusCode: 200 } };
  }

  override destroy(): void {
    this.requests.destroy();
    super.destroy();
  }
}

/** Entries with message attributes (binary values are base64 on the wire): the SDK's. */
function hasMessageAttributes(input: Wire): boolean {
  const entries = input.Entries as Wire[] | undefined;
  return input.MessageAttributes !== undefined || !!entries?.some((e) => e.MessageAttributes !== undefined);
}

const md5 = (s: string) => createHash('md5').update(s).digest('hex');

/** As the SDK's SQS client: a body that does not match its MD5 fails the receive. */
function checkReceived(messages: Message[]): void {
  const bad = messages.filter((m) => m.Body !== undefined && m.MD5OfBody !== undefined && md5(m.Body) !== m.MD5OfBody);
  if (bad.length) {
    throw new AwsJsonError(
      'InvalidMD5',
      `Invalid MD5 checksum on messages: ${bad.map((m) => m.MessageId).join(', ')}`,
      200,
      {},
    );
  }
}

function checkSent(entries: SendMessageBatchRequestEntry[], sent: SendMessageBatchResultEntry[]): void {
  const byId = new Map(entries.map((e) => [e.Id, e.MessageBody ?? '']));
  const bad = sent.filter((s) => s.MD5OfMessageBody !== undefined && md5(byId.get(s.Id) ?? '') !== s.MD5OfMessageBody);
  if (bad.length) {
    throw new AwsJsonError(
      'InvalidMD5',
      `Invalid MD5 checksum on messages: ${bad.map((s) => s.Id).join(', ')}`,
      200,
      {},
    );
  }
}
