/**
 * An HTTP proxy in front of dynalite whose global secondary indexes lag, the way AWS's do.
 *
 * dynalite updates an index in the same request as the table, so nothing convoy runs locally ever
 * sees a stale index; on AWS every GSI is updated asynchronously, per item, and a Query on it
 * cannot ask for a consistent read. The proxy rebuilds that:
 *  - every request goes to the primary dynalite unchanged, except Queries that name an IndexName
 *    on one of the lagged tables, which a second dynalite (the replica) answers: same table
 *    definition, same indexes, the same request body;
 *  - after each successful write to a lagged table (PutItem, UpdateItem, DeleteItem,
 *    BatchWriteItem), the proxy reads the written keys back from the primary (consistent
 *    GetItem) and queues that state of the row; a row state is applied to the replica once it is
 *    `lagMs` old, in the order it was read (per key, so a row never goes back in time).
 * So an index query sees each row as it was `lagMs` ago, with the replica's own index doing the
 * rest (sparse keys, shards, pagination, projections) exactly as dynalite does for the primary.
 * `hold()` stops applying (an index that lags by however long the test takes: the snapshot of
 * that moment), `caughtUp()` applies everything queued (the index after the lag has passed).
 *
 * Why not replay old responses for the same request body: a body the proxy has not seen before
 * (a new page's ExclusiveStartKey, a new run) would have no old answer, and a replayed page's
 * LastEvaluatedKey would point into a different listing than the one being paged.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type AttributeValue,
  CreateTableCommand,
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import { itemsTableDefinition } from '../../state/schema.js';

type Key = Record<string, AttributeValue>;
type Row = Record<string, AttributeValue>;

interface Queued {
  readAtMs: number;
  table: string;
  key: Key;
  /** the row as read from the primary; undefined: it did not exist */
  row: Row | undefined;
}

export interface LaggedIndexProxyOptions {
  primaryPort: number;
  /** items tables (convoy's items-table definition) whose indexes lag */
  tables: string[];
  lagMs: number;
}

const WRITES = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem']);
const KEY_ATTRS = ['runId', 'itemId'];

export class LaggedIndexProxy {
  private server: http.Server | undefined;
  private replicaServer: ReturnType<typeof dynalite> | undefined;
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  private primary!: DynamoDBClient;
  private replica!: DynamoDBClient;
  private replicaPort = 0;
  private readonly queue: Queued[] = [];
  /** per key: the read-back chain, so the states of one row are queued in the order they were read */
  private readonly reads = new Map<string, Promise<void>>();
  private applying: Promise<void> = Promise.resolve();
  private ticker: NodeJS.Timeout | undefined;
  private held = false;
  /** index queries answered by the replica, and row states applied to it */
  readonly stats = { indexQueries: 0, applied: 0, forwarded: 0 };
  port = 0;
  lagMs: number;

  constructor(private readonly opts: LaggedIndexProxyOptions) {
    this.lagMs = opts.lagMs;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    this.replicaServer = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
    await new Promise<void>((r) => this.replicaServer!.listen(0, '127.0.0.1', () => r()));
    this.replicaPort = (this.replicaServer.address() as AddressInfo).port;
    const client = (port: number) =>
      new DynamoDBClient({
        endpoint: `http://127.0.0.1:${port}`,
        region: 'us-east-1',
        credentials: { accessKeyId: 'lag', secretAccessKey: 'lag' },
      });
    this.primary = client(this.opts.primaryPort);
    this.replica = client(this.replicaPort);
    for (const table of this.opts.tables) await this.replica.send(new CreateTableCommand(itemsTableDefinition(table)));

    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => void this.handle(req, Buffer.concat(chunks), res));
    });
    server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
    this.ticker = setInterval(() => this.applyDue(), 20);
    return this;
  }

  /** Stop applying row states: the index stays as it is now until `caughtUp()`. */
  hold(): void {
    this.held = true;
  }

  /** Apply every row state read so far (the lag has passed); resumes applying after a `hold()`. */
  async caughtUp(): Promise<void> {
    this.held = false;
    await Promise.all([...this.reads.values()]);
    this.applyDue(Number.POSITIVE_INFINITY);
    await this.applying;
  }

  private async handle(req: http.IncomingMessage, body: Buffer, res: http.ServerResponse): Promise<void> {
    const op = String(req.headers['x-amz-target'] ?? '').split('.')[1] ?? '';
    let input: Record<string, unknown> = {};
    try {
      input = JSON.parse(body.toString('utf8') || '{}') as Record<string, unknown>;
    } catch {
      // not JSON: the primary answers it as it would
    }
    const lagged = (t: unknown) => typeof t === 'string' && this.opts.tables.includes(t);
    const toReplica = op === 'Query' && typeof input.IndexName === 'string' && lagged(input.TableName);
    if (toReplica) this.stats.indexQueries++;
    else this.stats.forwarded++;
    const up = await this.forward(toReplica ? this.replicaPort : this.opts.primaryPort, req, body).catch(() => null);
    if (!up) {
      res.destroy();
      return;
    }
    // the written rows are read back from the primary (in order per key) and queued for the replica
    if (!toReplica && up.status === 200 && WRITES.has(op)) this.noteWrites(op, input);
    res.writeHead(up.status, up.headers);
    res.end(up.body);
  }

  private forward(
    port: number,
    req: http.IncomingMessage,
    body: Buffer,
  ): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const upstream = http.request(
        { host: '127.0.0.1', port, method: req.method, path: req.url, headers: req.headers, agent: this.agent },
        (up) => {
          const chunks: Buffer[] = [];
          up.on('data', (c: Buffer) => chunks.push(c));
          up.on('end', () =>
            resolve({ status: up.statusCode ?? 502, headers: up.headers, body: Buffer.concat(chunks) }),
          );
          up.on('error', reject);
        },
      );
      upstream.on('error', reject);
      upstream.end(body);
    });
  }

  /** The keys a successful write touched, each read back from the primary and queued. */
  private noteWrites(op: string, input: Record<string, unknown>): void {
    const written: Array<{ table: string; key: Key }> = [];
    const keyOf = (item: Row): Key => Object.fromEntries(KEY_ATTRS.map((k) => [k, item[k]!]));
    if (op === 'BatchWriteItem') {
      // every key of the batch is read back, UnprocessedItems too (dynalite returns none): reading
      // a row that was not written queues its current state again, which is harmless
      const requests = (input.RequestItems ?? {}) as Record<
        string,
        Array<{ PutRequest?: { Item: Row }; DeleteRequest?: { Key: Key } }>
      >;
      for (const [table, reqs] of Object.entries(requests)) {
        if (!this.opts.tables.includes(table)) continue;
        for (const r of reqs)
          written.push({ table, key: r.PutRequest ? keyOf(r.PutRequest.Item) : r.DeleteRequest!.Key });
      }
    } else if (this.opts.tables.includes(input.TableName as string)) {
      const key = op === 'PutItem' ? keyOf(input.Item as Row) : (input.Key as Key);
      written.push({ table: input.TableName as string, key });
    }
    for (const w of written) this.noteRow(w.table, w.key);
  }

  /** Queue the current state of a row (read back from the primary): also for rows a test wrote around the proxy. */
  noteRow(table: string, key: Key): void {
    const id = `${table}\u0000${JSON.stringify(key)}`;
    const prev = this.reads.get(id) ?? Promise.resolve();
    const next = prev.then(async () => {
      const out = await this.primary.send(new GetItemCommand({ TableName: table, Key: key, ConsistentRead: true }));
      this.queue.push({ readAtMs: Date.now(), table, key, row: out.Item });
    });
    this.reads.set(id, next);
    void next.finally(() => {
      if (this.reads.get(id) === next) this.reads.delete(id);
    });
  }

  /** Apply, in order, the queued row states older than the lag (all of them with `olderThanMs` = Infinity). */
  private applyDue(olderThanMs = this.lagMs): void {
    if (this.held && olderThanMs !== Number.POSITIVE_INFINITY) return;
    const now = Date.now();
    const due: Queued[] = [];
    while (
      this.queue.length &&
      (olderThanMs === Number.POSITIVE_INFINITY || now - this.queue[0]!.readAtMs >= olderThanMs)
    )
      due.push(this.queue.shift()!);
    if (!due.length) return;
    this.applying = this.applying.then(async () => {
      for (const q of due) {
        if (q.row) await this.replica.send(new PutItemCommand({ TableName: q.table, Item: q.row }));
        else await this.replica.send(new DeleteItemCommand({ TableName: q.table, Key: q.key }));
        this.stats.applied++;
      }
    });
  }

  async close(): Promise<void> {
    if (this.ticker) clearInterval(this.ticker);
    await this.applying.catch(() => undefined);
    this.agent.destroy();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    await new Promise<void>((resolve) => (this.replicaServer ? this.replicaServer.close(() => resolve()) : resolve()));
    this.primary?.destroy();
    this.replica?.destroy();
  }
}
