/**
 * The state's DynamoDB document client: lib-dynamodb's DynamoDBDocumentClient, whose single-item
 * commands (Get, Put, Update, Delete: an item row's claim and completion, counters, group steps,
 * heartbeats) go out as lean signed requests (./aws-json-requests.ts, where the measurement is),
 * and every other command (queries, scans, batches) through the SDK as before.
 *
 * Callers see the same client: the same commands in, the same outputs out (items marshalled and
 * unmarshalled by @aws-sdk/util-dynamodb with the client's translate options, as lib-dynamodb
 * does), the same error names.
 */
import type { AttributeValue, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  UpdateCommand,
  type TranslateConfig,
} from '@aws-sdk/lib-dynamodb';
import {
  marshall,
  unmarshall,
  type marshallOptions,
  type NativeAttributeValue,
  type unmarshallOptions,
} from '@aws-sdk/util-dynamodb';
import { AwsJsonRequests, type ResolvedSdkConfig } from './aws-json-requests.js';

type Row = Record<string, NativeAttributeValue>;
type Wire = Record<string, unknown>;

/** The fields of each lean command's input and output that hold items (marshalled on the wire). */
const LEAN = [
  { command: GetCommand, action: 'GetItem', items: ['Key'], out: 'Item' },
  { command: PutCommand, action: 'PutItem', items: ['Item', 'ExpressionAttributeValues'], out: 'Attributes' },
  { command: UpdateCommand, action: 'UpdateItem', items: ['Key', 'ExpressionAttributeValues'], out: 'Attributes' },
  { command: DeleteCommand, action: 'DeleteItem', items: ['Key', 'ExpressionAttributeValues'], out: 'Attributes' },
] as const;

const toBase64 = (b: unknown) => Buffer.from(b as Uint8Array).toString('base64');
const fromBase64 = (s: unknown) => new Uint8Array(Buffer.from(s as string, 'base64'));

/**
 * Binary values (B, BS) are base64 in the JSON protocol and Uint8Arrays in the SDK's shapes: `convert`
 * one to the other throughout a map of attribute values (maps and lists nested), in place.
 */
function binaries(
  values: Record<string, AttributeValue>,
  convert: (v: unknown) => unknown,
): Record<string, AttributeValue> {
  for (const v of Object.values(values)) binary(v, convert);
  return values;
}

function binary(v: AttributeValue, convert: (v: unknown) => unknown): void {
  const av = v as unknown as Record<string, unknown>;
  if (av.B !== undefined) av.B = convert(av.B);
  else if (av.BS !== undefined) av.BS = (av.BS as unknown[]).map(convert);
  else if (av.M !== undefined) binaries(av.M as Record<string, AttributeValue>, convert);
  else if (av.L !== undefined) for (const e of av.L as AttributeValue[]) binary(e, convert);
}

export class StateDocumentClient extends DynamoDBDocumentClient {
  private readonly requests: AwsJsonRequests;
  private readonly marshallOptions: marshallOptions;
  private readonly unmarshallOptions: unmarshallOptions;

  constructor(raw: DynamoDBClient, translate: TranslateConfig, opts: { maxAttempts: number; maxSockets?: number }) {
    super(raw, translate);
    this.marshallOptions = { ...translate.marshallOptions };
    this.unmarshallOptions = { ...translate.unmarshallOptions };
    this.requests = new AwsJsonRequests(raw.config as unknown as ResolvedSdkConfig, {
      service: 'dynamodb',
      targetPrefix: 'DynamoDB_20120810',
      maxAttempts: opts.maxAttempts,
      maxSockets: opts.maxSockets,
    });
  }

  // The SDK's overloads (callbacks included) stay the SDK's; a promise-style call of a lean
  // command is answered here.
  // biome-ignore lint/suspicious/noExplicitAny: the overloads of Client.send
  override send(command: any, options?: any, cb?: any): any {
    if (typeof options !== 'function' && cb === undefined) {
      const lean = LEAN.find((l) => command instanceof l.command);
      if (lean) return this.sendLean(lean, command.input as Wire, options?.abortSignal as AbortSignal | undefined);
    }
    return super.send(command, options, cb);
  }

  private async sendLean(lean: (typeof LEAN)[number], input: Wire, signal: AbortSignal | undefined): Promise<Wire> {
    const wire: Wire = { ...input };
    for (const field of lean.items) {
      const value = input[field];
      if (value !== undefined) wire[field] = binaries(marshall(value as Row, this.marshallOptions), toBase64);
    }
    const out = await this.requests.call<Wire>(lean.action, wire, signal);
    const item = out[lean.out] as Record<string, AttributeValue> | undefined;
    return {
      ...out,
      ...(item === undefined ? {} : { [lean.out]: unmarshall(binaries(item, fromBase64), this.unmarshallOptions) }),
      $metadata: { httpStatusCode: 200 },
    };
  }

  override destroy(): void {
    this.requests.destroy();
    super.destroy();
  }
}
