/**
 * BatchWriteItem and BatchGetItem through the DocumentClient, with nothing dropped: each call's
 * UnprocessedItems / UnprocessedKeys are sent again (capped full-jitter backoff, shared/backoff's
 * drainBatch) until every entry is done. A loader that drops them loses data silently: DynamoDB
 * returns them whenever a partition is busy, without any error.
 */
import {
  BatchGetCommand,
  BatchWriteCommand,
  type BatchWriteCommandInput,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { type DrainOptions, drainBatch } from '../shared/backoff.js';

type Row = Record<string, unknown>;
/** `Item` is any row type (interfaces such as ItemRow have no index signature to match Row). */
export type WriteRequest = { PutRequest: { Item: object } } | { DeleteRequest: { Key: Row } };
type SdkWriteRequests = NonNullable<BatchWriteCommandInput['RequestItems']>[string];

/** The service's limits per call. */
const WRITE_BATCH = 25;
const GET_BATCH = 100;

/** Write every request, 25 a call, one call at a time. */
export async function batchWriteAll(
  ddb: DynamoDBDocumentClient,
  table: string,
  requests: WriteRequest[],
): Promise<void> {
  for (let i = 0; i < requests.length; i += WRITE_BATCH) {
    await drainBatch(requests.slice(i, i + WRITE_BATCH), async (pending) => {
      const out = await ddb.send(new BatchWriteCommand({ RequestItems: { [table]: pending as SdkWriteRequests } }));
      return (out.UnprocessedItems?.[table] ?? []) as WriteRequest[];
    });
  }
}

/**
 * Read the rows with these keys, 100 a call (consistent reads), handing each call's rows to
 * `onRows`; keys that do not exist are simply absent. `projection` limits the attributes read
 * (`names` maps its `#placeholders`);
 * `drain` bounds the retries (unbounded by default).
 */
export async function batchGetAll(
  ddb: DynamoDBDocumentClient,
  table: string,
  keys: Row[],
  onRows: (rows: Row[]) => void,
  opts: { projection?: string; names?: Record<string, string>; drain?: DrainOptions } = {},
): Promise<void> {
  for (let i = 0; i < keys.length; i += GET_BATCH) {
    await drainBatch(
      keys.slice(i, i + GET_BATCH),
      async (pending) => {
        const out = await ddb.send(
          new BatchGetCommand({
            RequestItems: {
              [table]: {
                Keys: pending,
                ProjectionExpression: opts.projection,
                ExpressionAttributeNames: opts.names,
                ConsistentRead: true,
              },
            },
          }),
        );
        onRows(out.Responses?.[table] ?? []);
        return (out.UnprocessedKeys?.[table]?.Keys ?? []) as Row[];
      },
      opts.drain,
    );
  }
}
