/**
 * Reading DynamoDB items back by key (the table kinds' verifiers compare a sample of what they
 * wrote): BatchGetItem, 100 keys a call, consistent reads, unprocessed keys retried.
 */
import { BatchGetItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { drainBatch } from '../../../shared/backoff.js';
import { keyText, type AttributeMap } from '../../../shared/item-size.js';

/** Fetch items by key, 100 a call, unprocessed keys retried. */
export async function batchGet(
  client: DynamoDBClient,
  table: string,
  keys: AttributeMap[],
  keyNames: string[],
): Promise<Map<string, AttributeMap>> {
  const found = new Map<string, AttributeMap>();
  for (let i = 0; i < keys.length; i += 100) {
    await drainBatch(keys.slice(i, i + 100), async (pending) => {
      const out = await client.send(
        new BatchGetItemCommand({ RequestItems: { [table]: { Keys: pending, ConsistentRead: true } } }),
      );
      for (const it of (out.Responses?.[table] ?? []) as AttributeMap[]) found.set(keyText(it, keyNames), it);
      return (out.UnprocessedKeys?.[table]?.Keys ?? []) as AttributeMap[];
    });
  }
  return found;
}
