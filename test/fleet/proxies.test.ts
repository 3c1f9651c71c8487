/**
 * The harness's network pieces: the pure naming/addressing of namespaces, the link proxy's delay,
 * stall and refuse against a real TCP echo server, and the throttle proxy's errors as the real
 * AWS SDK sees them (classified THROTTLED by convoy) in front of real emulators.
 */
import net from 'node:net';
import { ListTablesCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ListBucketsCommand } from '@aws-sdk/client-s3';
import { ListQueuesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeS3Client } from '../../shared/s3-clients.js';
import { classifyError } from '../../shared/errors.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../infra/local/stack.js';
import { startTestStack, type TestStack } from '../helpers/stack.js';
import { LinkProxy } from './link-proxy.js';
import { freeSlots, hostNames, slotAddresses, slotStart, staleNamespaces } from './netns.js';
import { ThrottleProxy, throttleResponse } from './throttle-proxy.js';

describe('namespace naming and addressing', () => {
  it('names fit the interface limit and carry the pid', () => {
    const n = hostNames(4_194_303, 7);
    expect(n.ns).toBe('cvf4194303n7');
    expect(n.hostIf.length).toBeLessThanOrEqual(15);
    expect(n.nsIf.length).toBeLessThanOrEqual(15);
  });

  it('a /30 per slot, skipping addresses in use', () => {
    expect(slotAddresses(0)).toEqual({ hostAddr: '10.231.0.1', nsAddr: '10.231.0.2' });
    expect(slotAddresses(65)).toEqual({ hostAddr: '10.231.1.5', nsAddr: '10.231.1.6' });
    expect(freeSlots(['10.231.0.1', '10.231.0.6', '127.0.0.1'], 2)).toEqual([2, 3]);
    // from a start of its own, round the end of the range
    expect(freeSlots(['10.231.255.253'], 2, 16_383)).toEqual([0, 1]);
    expect(freeSlots([], 2, 100)).toEqual([100, 101]);
  });

  it('harnesses of different pids start their slot scans apart (two suites at once pick different /30s)', () => {
    const starts = [4242, 4243, 4244, 123_456].map(slotStart);
    expect(new Set(starts).size).toBe(starts.length);
    for (const s of starts) expect(s % 16).toBe(0);
    expect(Math.abs(slotStart(4243) - slotStart(4242))).toBeGreaterThanOrEqual(16);
  });

  it('only namespaces of dead harnesses are stale', () => {
    const alive = (pid: number) => pid === 100;
    expect(staleNamespaces(['cvf100n0', 'cvf200n1', 'other', 'cvf200x'], alive)).toEqual(['cvf200n1']);
  });
});

describe('link proxy', () => {
  let echo: net.Server;
  let echoPort: number;
  beforeAll(async () => {
    echo = net.createServer((s) => {
      s.on('error', () => undefined);
      s.pipe(s);
    });
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', () => r()));
    echoPort = (echo.address() as net.AddressInfo).port;
  });
  afterAll(() => new Promise<void>((r) => echo.close(() => r())));

  const roundTrip = async (port: number, payload = 'ping'): Promise<{ ms: number; reply: string }> => {
    const s = net.connect(port, '127.0.0.1');
    let t0 = 0;
    try {
      const reply = await new Promise<string>((resolve, reject) => {
        s.once('error', reject);
        s.once('close', () => reject(new Error('closed')));
        s.once('data', (d) => resolve(d.toString()));
        s.once('connect', () => {
          t0 = performance.now();
          s.write(payload);
        });
      });
      return { ms: performance.now() - t0, reply };
    } finally {
      s.destroy();
    }
  };

  it('adds the configured delay each way, in order', async () => {
    const p = await new LinkProxy({
      host: '127.0.0.1',
      upstreamHost: '127.0.0.1',
      upstreamPort: echoPort,
      delayMs: { min: 40, max: 40 },
    }).start();
    try {
      const { ms, reply } = await roundTrip(p.port);
      expect(reply).toBe('ping');
      expect(ms).toBeGreaterThanOrEqual(78); // 2 x 40 ms, minus timer slack
      const direct = await new LinkProxy({
        host: '127.0.0.1',
        upstreamHost: '127.0.0.1',
        upstreamPort: echoPort,
      }).start();
      // the best of five: one round trip on a loaded machine (CI's two suites side by side) took
      // 80 ms once; a link that delayed would take >= 80 every time
      const direct5: number[] = [];
      for (let i = 0; i < 5; i++) direct5.push((await roundTrip(direct.port)).ms);
      expect(Math.min(...direct5)).toBeLessThan(60);
      await direct.close();
    } finally {
      await p.close();
    }
  });

  it('stall holds the data until the link is back; refuse resets connections', async () => {
    const p = await new LinkProxy({ host: '127.0.0.1', upstreamHost: '127.0.0.1', upstreamPort: echoPort }).start();
    try {
      p.setMode('stall');
      const pending = roundTrip(p.port, 'held');
      let settled = false;
      void pending.then(() => (settled = true));
      await new Promise((r) => setTimeout(r, 300)); // a stall must hold data for a while: observe it is still held
      expect(settled).toBe(false);
      p.setMode('pass');
      expect((await pending).reply).toBe('held');

      p.setMode('refuse');
      await expect(roundTrip(p.port)).rejects.toThrow(/ECONNRESET|socket hang up|closed/);
      expect(p.stats.refused).toBeGreaterThanOrEqual(1);
    } finally {
      await p.close();
    }
  });
});

describe('throttle proxy', () => {
  let t: TestStack;
  beforeAll(async () => {
    t = await startTestStack();
  });
  afterAll(async () => t?.close());

  it('answers what the real services answer, and convoy classifies it THROTTLED', async () => {
    const port = (url: string) => Number(new URL(url).port);
    const dyn = await new ThrottleProxy({
      endpointKind: 'dynamodb',
      upstreamPort: port(t.stack.endpoints.dynamodb),
      rate: 1,
    }).start();
    const fq = await new ThrottleProxy({
      endpointKind: 'fauxqs',
      upstreamPort: port(t.stack.endpoints.sqs),
      rate: 1,
    }).start();
    const common = { region: LOCAL_REGION, credentials: { ...LOCAL_CREDENTIALS }, maxAttempts: 1 };
    const ddb = new DynamoDBClient({ ...common, endpoint: dyn.url });
    const sqs = new SQSClient({ ...common, endpoint: fq.url });
    const s3 = makeS3Client(
      { name: 'x', endpoint: fq.url, region: LOCAL_REGION, ...LOCAL_CREDENTIALS },
      { maxAttempts: 1 },
    );
    try {
      const errors = await Promise.all([
        ddb.send(new ListTablesCommand({})).catch((e) => e),
        sqs.send(new ListQueuesCommand({})).catch((e) => e),
        s3.send(new ListBucketsCommand({})).catch((e) => e),
      ]);
      expect(errors.map((e) => e.name)).toEqual([
        'ProvisionedThroughputExceededException',
        'RequestThrottled',
        'SlowDown',
      ]);
      for (const e of errors) expect(classifyError(e).errorClass).toBe('THROTTLED');
      expect(dyn.injected.dynamodb).toBe(1);
      expect(fq.injected).toMatchObject({ sqs: 1, s3: 1 });
      // rate 0: everything passes through to the emulator
      dyn.rate = 0;
      await ddb.send(new ListTablesCommand({}));
      expect(dyn.forwarded).toBe(1);
    } finally {
      ddb.destroy();
      sqs.destroy();
      s3.destroy();
      await dyn.close();
      await fq.close();
    }
  });

  it('S3 throttling is a 503, DynamoDB and SQS a 400', () => {
    expect(throttleResponse('s3').status).toBe(503);
    expect(throttleResponse('dynamodb').status).toBe(400);
    expect(throttleResponse('sqs').status).toBe(400);
  });
});
