/**
 * Recognising a failed condition of a conditional write: the one way every state transition
 * says "the row was not in the state you expected" (a typed result for callers, never a throw).
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';

export function isConditionFailure(err: unknown): boolean {
  return (
    err instanceof ConditionalCheckFailedException ||
    (err as Error | undefined)?.name === 'ConditionalCheckFailedException'
  );
}

/** Send a conditional write: 'lost' when its condition failed (the row was not as expected). */
export async function conditionalWrite(send: () => Promise<unknown>): Promise<'ok' | 'lost'> {
  try {
    await send();
    return 'ok';
  } catch (err) {
    if (isConditionFailure(err)) return 'lost';
    throw err;
  }
}
