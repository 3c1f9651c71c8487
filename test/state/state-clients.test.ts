/**
 * The state's clients (shared/clients.ts `makeStateClients`) send the engine's per-item commands
 * as lean signed requests (shared/aws-json-requests.ts) instead of through the SDK. What must
 * hold: the same answers and error names as the SDK's clients on the same local stack, the
 * SDK's retries of throttling and transient faults and no others, and requests that AWS would
 * accept: signed as the SDK's signer signs (neither dynalite nor fauxqs checks signatures, so a
 * server here re-derives each signature with @smithy/signature-v4 from the secret key).
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ReceiveMessageCommand, SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import {
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeStateClients, type StateClients } from '../../shared/clients.js';
import type { StateConfig } from '../../shared/config.js';
import { isConditionFailure } from '../../state/conditions.js';
import { Sha256 } from '../helpers/sha256.js';
import { startS3Proxy } from '../helpers/s3-proxy.js';
import { freshEnv, startTestStack, type TestEnv, type TestStack } from '../helpers/stack.js';

let stack: TestStack;
let env: TestEnv;
let clients: StateClients;
let sdk: DynamoDBDocumentClient;
let sdkRaw: DynamoDBClient;

beforeAll(async () => {
  stack = await startTestStack();
  env = await freshEnv(stack.stack);
  clients = makeStateClients(env.config.state);
  const s = env.config.state;
  sdkRaw = new DynamoDBClient({ region: s.region, endpoint: s.endpoints.dynamodb, credentials: s.credentials });
  sdk = DynamoDBDocumentClient.from(sdkRaw, { marshallOptions: { removeUndefinedValues: true } });
});
afterAll(async () => {
  clients?.destroy();
  sdkRaw?.destroy();
  env?.close();
  await stack?.close();
});

/** Every value shape the state rows use, and the ones they might. */
const row = (itemId: string) => ({
  runId: 'clients',
  itemId,
  status: 'running',
  attempts: 3,
  ratio: 0.25,
  big: 2 ** 40,
  done: false,
  missing: null,
  tags: new Set(['a', 'b']),
  sizes: new Set([1, 2]),
  data: new Uint8Array([0, 1, 2, 250, 255]),
  nested: { list: [1, 'two', { three: new Uint8Array([3]) }], empty: {} },
  dropped: undefined,
});

function sameWay(client: DynamoDBDocumentClient, itemId: string) {
  const Key = { runId: 'clients', itemId };
  const table = env.config.state.itemsTable;
  return {
    put: () => client.send(new PutCommand({ TableName: table, Item: row(itemId), ReturnValues: 'ALL_OLD' })),
    putAgain: () => client.send(new PutCommand({ TableName: table, Item: row(itemId), ReturnValues: 'ALL_OLD' })),
    get: () => client.send(new GetCommand({ TableName: table, Key, ConsistentRead: true })),
    update: () =>
      client.send(
        new UpdateCommand({
          TableName: table,
          Key,
          UpdateExpression: 'SET #s = :s, attempts = attempts + :one, #b = :b ADD tags :t',
          ConditionExpression: '#s = :running',
          ExpressionAttributeNames: { '#s': 'status', '#b': 'blob' },
          ExpressionAttributeValues: {
            ':s': 'done',
            ':one': 1,
            ':b': new Uint8Array([9, 8]),
            ':t': new Set(['c']),
            ':running': 'running',
          },
          ReturnValues: 'ALL_NEW',
        }),
      ),
    failedCondition: () =>
      client.send(
        new UpdateCommand({
          TableName: table,
          Key,
          UpdateExpression: 'SET attempts = :z',
          ConditionExpression: '#s = :running',
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: { ':z': 0, ':running': 'running' },
        }),
      ),
    del: () => client.send(new DeleteCommand({ TableName: table, Key, ReturnValues: 'ALL_OLD' })),
    getGone: () => client.send(new GetCommand({ TableName: table, Key })),
    missingTable: () => client.send(new GetCommand({ TableName: `${table}-nope`, Key })),
  };
}

const settle = async (p: () => Promise<{ $metadata?: unknown } & Record<string, unknown>>) => {
  try {
    const { $metadata: _m, ...out } = await p();
    return { out };
  } catch (err) {
    const e = err as Error & { $metadata?: { httpStatusCode?: number } };
    return { error: e.name, status: e.$metadata?.httpStatusCode, conditionFailed: isConditionFailure(err) };
  }
};

describe('the state clients', () => {
  it('answer single-item commands as the SDK document client does, without going through the SDK', async () => {
    // a middleware on the client's SDK stack sees what went through the SDK
    const throughSdk: string[] = [];
    clients.ddb.middlewareStack.add(
      (next, context) => async (args) => {
        throughSdk.push(String(context.commandName));
        return next(args);
      },
      { step: 'initialize', name: 'countThroughSdk' },
    );
    const lean = sameWay(clients.ddb, 'lean');
    const reference = sameWay(sdk, 'sdk');
    const answers: Record<string, [unknown, unknown]> = {};
    for (const step of Object.keys(lean) as (keyof typeof lean)[]) {
      const a = await settle(lean[step] as never);
      const b = await settle(reference[step] as never);
      answers[step] = [a, b];
    }
    // the rows differ only in their item ids
    const sameRow = (x: unknown) =>
      JSON.parse(JSON.stringify(x, (_k, v) => (v === 'sdk' ? 'lean' : v instanceof Set ? [...v] : v)));
    for (const [step, [a, b]] of Object.entries(answers)) expect(sameRow(a), step).toEqual(sameRow(b));
    // and the values came back in their shapes (binary as bytes, sets as sets, numbers as numbers)
    const got = (answers.get![0] as { out: { Item: ReturnType<typeof row> } }).out.Item;
    expect(Buffer.from(got.data)).toEqual(Buffer.from([0, 1, 2, 250, 255]));
    expect(got.tags).toEqual(new Set(['a', 'b']));
    expect(got.big).toBe(2 ** 40);
    expect(Buffer.from((got.nested.list[2] as { three: Uint8Array }).three)).toEqual(Buffer.from([3]));
    const updated = (answers.update![0] as { out: { Attributes: Record<string, unknown> } }).out.Attributes;
    expect(updated).toMatchObject({ status: 'done', attempts: 4, tags: new Set(['a', 'b', 'c']) });
    expect(Buffer.from(updated.blob as Uint8Array)).toEqual(Buffer.from([9, 8]));
    expect(answers.failedCondition![0]).toEqual({
      error: 'ConditionalCheckFailedException',
      status: 400,
      conditionFailed: true,
    });
    expect(answers.missingTable![0]).toMatchObject({ error: 'ResourceNotFoundException', status: 400 });
    expect(throughSdk).toEqual([]);

    // the commands the lean path does not take still go through the SDK
    await clients.ddb.send(
      new QueryCommand({
        TableName: env.config.state.itemsTable,
        KeyConditionExpression: 'runId = :r',
        ExpressionAttributeValues: { ':r': 'clients' },
      }),
    );
    expect(throughSdk).toEqual(['QueryCommand']);
  });

  it('try throttling and server faults again, as the SDK does, and nothing else', async () => {
    let faults = 0;
    let seen = 0;
    const proxy = await startS3Proxy(env.config.state.endpoints.dynamodb!, {
      before: () => {
        seen++;
        if (faults <= 0) return;
        faults--;
        return faults % 2
          ? {
              status: 400,
              body: '{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"slow down"}',
            }
          : { status: 500, body: '{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"oops"}' };
      },
    });
    const state: StateConfig = {
      ...env.config.state,
      endpoints: { ...env.config.state.endpoints, dynamodb: proxy.url },
    };
    const faulty = makeStateClients(state, { maxAttempts: 3 });
    try {
      const table = env.config.state.itemsTable;
      const put = () =>
        faulty.ddb.send(new PutCommand({ TableName: table, Item: { runId: 'clients', itemId: 'retried', n: 1 } }));
      faults = 2; // a throttle and a 500, then the write goes through
      await put();
      expect(seen).toBe(3);
      const { Item } = await sdk.send(
        new GetCommand({ TableName: table, Key: { runId: 'clients', itemId: 'retried' } }),
      );
      expect(Item).toEqual({ runId: 'clients', itemId: 'retried', n: 1 });

      seen = 0;
      faults = 6; // more than maxAttempts: the last fault (a throttle) is thrown, named as the service named it
      const err = await put().catch((e: unknown) => e as Error & { $metadata: { attempts: number } });
      expect(seen).toBe(3);
      expect(err).toMatchObject({ name: 'ThrottlingException', $metadata: { httpStatusCode: 400, attempts: 3 } });

      seen = 0;
      faults = 0; // a failed condition is an answer, not a fault: asked once
      const failed = await faulty.ddb
        .send(
          new PutCommand({
            TableName: table,
            Item: { runId: 'clients', itemId: 'retried', n: 2 },
            ConditionExpression: 'attribute_not_exists(runId)',
          }),
        )
        .catch((e: unknown) => e);
      expect(isConditionFailure(failed)).toBe(true);
      expect(seen).toBe(1);
    } finally {
      faulty.destroy();
      await proxy.close();
    }
  });
});

describe('the state clients sign as AWS checks', () => {
  const secret = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
  type Seen = { target: string; valid: boolean; signedHeaders: string; body: string };

  /**
   * A server that answers as `answer` says and checks each request's signature: it signs the
   * request's signed headers and body again with the SDK's signer and the secret key, as AWS does.
   */
  async function checkingServer(answer: (target: string) => unknown) {
    const seen: Seen[] = [];
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', async () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const auth = String(req.headers.authorization);
        const signedHeaders = /SignedHeaders=([^,]+)/.exec(auth)![1]!;
        const scope = /Credential=[^/]+\/(\d{8})\/([^/]+)\/([^/]+)\//.exec(auth)!;
        const headers: Record<string, string> = {};
        for (const name of signedHeaders.split(';')) headers[name] = String(req.headers[name]);
        // the payload's hash is the body's, not what the request claims (the signer adds it back)
        delete headers['x-amz-content-sha256'];
        const d = String(req.headers['x-amz-date']);
        const signingDate = new Date(
          `${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6, 8)}T${d.slice(9, 11)}:${d.slice(11, 13)}:${d.slice(13, 15)}Z`,
        );
        const again = await new SignatureV4({
          service: scope[3]!,
          region: scope[2]!,
          credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: secret },
          sha256: Sha256,
        }).sign(
          { method: req.method!, protocol: 'http:', hostname: '127.0.0.1', path: req.url!, query: {}, headers, body },
          { signingDate },
        );
        const target = String(req.headers['x-amz-target']);
        seen.push({ target, valid: again.headers.authorization === auth, signedHeaders, body });
        res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' });
        res.end(JSON.stringify(answer(target)));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return { url, seen, close: () => new Promise<void>((r) => server.close(() => r())) };
  }

  it('DynamoDB and SQS requests carry valid signatures over the body, the target and the date', async () => {
    const body = 'a message';
    const md5 = createHash('md5').update(body).digest('hex');
    const server = await checkingServer((target) =>
      target.endsWith('.GetItem')
        ? { Item: { runId: { S: 'r' }, itemId: { S: 'i' }, n: { N: '7' } } }
        : { Messages: [{ MessageId: 'm1', ReceiptHandle: 'h1', Body: body, MD5OfBody: md5 }] },
    );
    const signed = makeStateClients({
      region: 'eu-west-1',
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: secret },
      endpoints: { dynamodb: server.url, sqs: server.url },
      itemsTable: 'items',
      metaTable: 'meta',
      queueName: 'work',
      dlqName: 'dlq',
      queueUrl: `${server.url}/000000000000/work`,
      dlqUrl: `${server.url}/000000000000/dlq`,
    } as StateConfig);
    try {
      const got = await signed.ddb.send(new GetCommand({ TableName: 'items', Key: { runId: 'r', itemId: 'i' } }));
      expect(got.Item).toEqual({ runId: 'r', itemId: 'i', n: 7 });
      const received = await signed.sqs.send(
        new ReceiveMessageCommand({ QueueUrl: `${server.url}/000000000000/work`, MaxNumberOfMessages: 10 }),
      );
      expect(received.Messages?.map((m) => m.Body)).toEqual([body]);
      expect(server.seen.map((s) => [s.target, s.valid])).toEqual([
        ['DynamoDB_20120810.GetItem', true],
        ['AmazonSQS.ReceiveMessage', true],
      ]);
      for (const s of server.seen) {
        // what the SDK signs too: the body's hash, its length and type, the target
        expect(s.signedHeaders.split(';')).toEqual(
          expect.arrayContaining([
            'content-length',
            'content-type',
            'host',
            'x-amz-content-sha256',
            'x-amz-date',
            'x-amz-target',
          ]),
        );
      }
      expect(JSON.parse(server.seen[0]!.body)).toEqual({
        TableName: 'items',
        Key: { runId: { S: 'r' }, itemId: { S: 'i' } },
      });
    } finally {
      signed.destroy();
      await server.close();
    }
  });

  it('a received or sent message whose body does not match its MD5 fails, as with the SDK', async () => {
    const server = await checkingServer((target) =>
      target.endsWith('.ReceiveMessage')
        ? { Messages: [{ MessageId: 'm1', ReceiptHandle: 'h1', Body: 'changed', MD5OfBody: '0'.repeat(32) }] }
        : { Successful: [{ Id: '0', MessageId: 'm2', MD5OfMessageBody: '0'.repeat(32) }], Failed: [] },
    );
    const state = {
      region: 'eu-west-1',
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: secret },
      endpoints: { dynamodb: server.url, sqs: server.url },
    } as StateConfig;
    const c = makeStateClients(state, { maxAttempts: 1 });
    try {
      const queueUrl = `${server.url}/000000000000/work`;
      await expect(c.sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl }))).rejects.toThrow(/MD5/);
      await expect(
        c.sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: [{ Id: '0', MessageBody: 'x' }] })),
      ).rejects.toThrow(/MD5/);
    } finally {
      c.destroy();
      await server.close();
    }
  });
});
