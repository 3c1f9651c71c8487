/**
 * What the requests of one benchmark run would cost at AWS list prices, per million objects
 * copied, and the requests per object (or per work item) by type. Pure.
 *
 * The prices (us-east-1, on-demand list prices, no free tier, no volume tiers) are in PRICES with
 * where they were checked; docs/benchmarks.md has the same table. Only request charges: storage,
 * data transfer and the compute that runs the tool are left out (the same for every tool, or
 * measured elsewhere in CPU seconds).
 */
import type { ProxyStats } from './counting-proxy.js';
import type { BillingClass } from './request-types.js';

export const PRICES = {
  region: 'us-east-1',
  checked: '2026-12-02',
  /** S3 Standard: PUT, COPY, POST, LIST requests, $ per 1,000 */
  s3Tier1PerThousand: 0.005,
  /** S3 Standard: GET, SELECT and all other requests (HEAD included), $ per 1,000 */
  s3Tier2PerThousand: 0.0004,
  /** SQS standard queue, $ per million requests (each 64 KiB of payload is one request) */
  sqsPerMillion: 0.4,
  /** DynamoDB on-demand, standard table class: $ per million write request units */
  dynamoWruPerMillion: 0.625,
  /** DynamoDB on-demand, standard table class: $ per million read request units */
  dynamoRruPerMillion: 0.125,
  sources: [
    'https://aws.amazon.com/s3/pricing/ (Requests & data retrievals; DELETE and CANCEL free)',
    'https://docs.aws.amazon.com/AmazonS3/latest/userguide/ErrorCodeBilling.html (5xx responses not billed)',
    'https://aws.amazon.com/sqs/pricing/ (standard queue; 64 KB chunks)',
    'https://aws.amazon.com/dynamodb/pricing/on-demand/ (request units)',
  ],
} as const;

/** $ per billed unit of each class. */
export function unitPrice(cls: BillingClass): number {
  switch (cls) {
    case 's3-tier1':
      return PRICES.s3Tier1PerThousand / 1000;
    case 's3-tier2':
      return PRICES.s3Tier2PerThousand / 1000;
    case 'sqs':
      return PRICES.sqsPerMillion / 1e6;
    case 'dynamodb-write':
      return PRICES.dynamoWruPerMillion / 1e6;
    case 'dynamodb-read':
      return PRICES.dynamoRruPerMillion / 1e6;
    case 's3-free':
    case 'free':
      return 0;
  }
}

export interface DollarsPerMillion {
  s3: number;
  sqs: number;
  dynamodb: number;
  total: number;
}

const round = (n: number, digits: number) => Math.round(n * 10 ** digits) / 10 ** digits;

/** The request charges of a run, scaled to a million objects (4 decimals: tenths of a cent). */
export function dollarsPerMillionObjects(proxies: ProxyStats[], objects: number): DollarsPerMillion {
  const sum = { s3: 0, sqs: 0, dynamodb: 0 };
  for (const p of proxies) for (const a of Object.values(p.actions)) sum[p.service] += a.units * unitPrice(a.billing);
  const scale = 1e6 / Math.max(objects, 1);
  const s3 = sum.s3 * scale;
  const sqs = sum.sqs * scale;
  const dynamodb = sum.dynamodb * scale;
  return { s3: round(s3, 4), sqs: round(sqs, 4), dynamodb: round(dynamodb, 4), total: round(s3 + sqs + dynamodb, 4) };
}

/** Requests of one service summed over its proxies, by action. */
export function requestsByAction(proxies: ProxyStats[], service: ProxyStats['service']): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of proxies) {
    if (p.service !== service) continue;
    for (const [action, a] of Object.entries(p.actions)) out[action] = (out[action] ?? 0) + a.requests;
  }
  return out;
}

export interface PerUnit {
  total: number;
  by_type: Record<string, number>;
}

/** Requests per object (or per item): the total and each type, 3 decimals, largest first. */
export function perUnit(byAction: Record<string, number>, units: number): PerUnit {
  const n = Math.max(units, 1);
  const entries = Object.entries(byAction).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const total = entries.reduce((s, [, c]) => s + c, 0);
  return { total: round(total / n, 3), by_type: Object.fromEntries(entries.map(([k, c]) => [k, round(c / n, 3)])) };
}
