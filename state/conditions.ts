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
