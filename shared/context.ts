/**
 * The context object: configuration compiled once, clients built once, passed first everywhere
 * (graphile-worker's pattern). Components depend on the narrow stores in it, not on SDK clients.
 */
import { assertStateReachable, type ConvoyConfig } from './config.js';
import { makeStateClients, type StateClients } from './clients.js';
import { ConvoyEmitter } from './events.js';
import { createLogger, type Logger } from './log.js';
import { resolveQueueUrls, WorkQueue } from './work-queue.js';

export interface ConvoyContext {
  config: ConvoyConfig;
  clients: StateClients;
  /** stores for state/ functions: { ddb, table, now } */
  items: { ddb: StateClients['ddb']; table: string; now: () => number };
  meta: { ddb: StateClients['ddb']; table: string; now: () => number };
  queue: WorkQueue;
  log: Logger;
  events: ConvoyEmitter;
  now: () => number;
  close(): void;
}

export async function createContext(
  config: ConvoyConfig,
  opts: { log?: Logger; now?: () => number; maxSockets?: number } = {},
): Promise<ConvoyContext> {
  assertStateReachable(config);
  const clients = makeStateClients(config.state, { maxSockets: opts.maxSockets });
  const now = opts.now ?? Date.now;
  const { queueUrl, dlqUrl } = await resolveQueueUrls(clients.sqs, config.state);
  return {
    config,
    clients,
    items: { ddb: clients.ddb, table: config.state.itemsTable, now },
    meta: { ddb: clients.ddb, table: config.state.metaTable, now },
    queue: new WorkQueue(clients.sqs, queueUrl, dlqUrl),
    log: opts.log ?? createLogger(config.logLevel),
    events: new ConvoyEmitter(),
    now,
    close: () => clients.destroy(),
  };
}
