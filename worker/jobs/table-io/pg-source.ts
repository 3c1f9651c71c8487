/**
 * PostgreSQL as a source: connections, the source relation (a table or a query), column checks,
 * and value parsing that keeps values exact.
 *
 * Exactness: node-postgres turns timestamps into JS Dates (microseconds lost) and leaves int8 and
 * numeric as strings; here every time type, int8 and numeric arrive as text, the session runs in
 * UTC, and timestamps are written as ISO-8601 (`2024-01-01T05:00:00.123456Z`). So a row read twice
 * serialises to the same bytes (the per-partition hash depends on that) and numbers keep every digit.
 *
 * Secrets: a connection URL with a password is refused (the URL is stored in the run row); the
 * password comes from PGPASSWORD or ~/.pgpass, which node-postgres reads itself.
 */
import pg from 'pg';
import * as z from 'zod';
import { ConvoyError, InputError, ServiceUnavailableError, classifyError, toError } from '../../../shared/errors.js';

export const pgSourceSchema = z
  .object({
    /** postgres://user@host:port/db (no password: use PGPASSWORD or ~/.pgpass) */
    url: z.string().min(1),
    /** a table (optionally schema-qualified) ... */
    table: z.string().min(1).optional(),
    /** ... or a query; its columns are the source's columns */
    query: z.string().min(1).optional(),
  })
  .refine((s) => (s.table === undefined) !== (s.query === undefined), {
    message: 'give exactly one of table or query',
  });
export type PgSource = z.infer<typeof pgSourceSchema>;

const TEXT_TYPES = new Set([
  20, // int8
  1700, // numeric
  1082, // date
  1083, // time
  1266, // timetz
  1114, // timestamp
  1184, // timestamptz
  1186, // interval
]);

/** ISO form of PostgreSQL's UTC timestamp text: '2024-01-01 05:00:00.12+00' -> '2024-01-01T05:00:00.12Z'. */
export function isoTimestamp(text: string): string {
  return text.replace(' ', 'T').replace(/\+00(:00)?$/, 'Z');
}

const exactTypes = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === 1184) return (v: string) => isoTimestamp(v);
    if (oid === 1114) return (v: string) => v.replace(' ', 'T');
    if (TEXT_TYPES.has(oid)) return (v: string) => v;
    return pg.types.getTypeParser(oid, format ?? 'text');
  },
} as unknown as pg.CustomTypesConfig;

/** A connection URL must not carry a password (it would be stored in the run row). */
export function checkPgUrl(url: string, what: string): void {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new InputError(`${what} "${url}" is not a URL; use postgres://user@host:5432/database`);
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') {
    throw new InputError(
      `${what} "${url}" must start with postgres:// (for example postgres://postgres@127.0.0.1:5432/app)`,
    );
  }
  if (u.password) {
    throw new InputError(
      `${what}: do not put the password in the URL (it would be stored in the run row); set PGPASSWORD or use ~/.pgpass`,
    );
  }
}

/** The URL with any password removed, for messages. */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    u.password = '';
    return u.toString();
  } catch {
    return '(unparseable url)';
  }
}

const pools = new Map<string, pg.Pool>();

/** A pool per URL and process; idle connections close by themselves and never hold the process. */
export function pgPool(url: string, max = 10): pg.Pool {
  let pool = pools.get(url);
  if (!pool) {
    // TimeZone=UTC as a startup option: every connection is UTC before its first query
    pool = new pg.Pool({
      connectionString: url,
      max,
      idleTimeoutMillis: 10_000,
      connectionTimeoutMillis: 5_000,
      allowExitOnIdle: true,
      types: exactTypes,
      options: '-c TimeZone=UTC',
    });
    pool.on('error', () => undefined); // an idle client's error: the next checkout reconnects
    // A client the pool let go (pool.end, idle timeout) may still be closing its socket when the
    // server ends it (57P01: DROP DATABASE ... WITH (FORCE), a restart): its 'error' then had no
    // listener and crashed the process (seen once in `npm run test:compat`'s pg-to-s3 teardown).
    pool.on('remove', (client) => client.on('error', () => undefined));
    pools.set(url, pool);
  }
  return pool;
}

export async function closePgPools(): Promise<void> {
  const all = [...pools.values()];
  pools.clear();
  await Promise.all(all.map((p) => p.end().catch(() => undefined)));
}

/** A dedicated client (cursors, long transactions). Caller ends it. */
export async function pgClient(url: string): Promise<pg.Client> {
  const c = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: 5_000,
    types: exactTypes,
    options: '-c TimeZone=UTC',
  });
  await c.connect();
  return c;
}

/** Classify a PostgreSQL failure during work: connection trouble retries, SQL errors do not. */
export function classifyPgError(err: unknown, what: string): ConvoyError {
  if (err instanceof ConvoyError) return err;
  const e = toError(err) as Error & { code?: string };
  const sqlState = e.code ?? '';
  if (/^(08|57P|53)/.test(sqlState))
    return new ServiceUnavailableError(`${what}: PostgreSQL unavailable (${sqlState}): ${e.message}`, { cause: err });
  if (/^40/.test(sqlState))
    return new ConvoyError('PG_TRANSACTION_ROLLBACK', `${what}: ${e.message}`, { retryable: true, cause: err });
  if (/^[0-9A-Z]{5}$/.test(sqlState))
    return new ConvoyError('PG_QUERY_FAILED', `${what}: PostgreSQL error ${sqlState}: ${e.message}`, {
      retryable: false,
      cause: err,
    });
  return classifyError(err);
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** "schema.table" or "table" -> quoted, for a FROM clause. */
export function quoteQualified(name: string): string {
  return name.split('.').map(quoteIdent).join('.');
}

/** The FROM expression of a source. */
export function sourceRelation(src: PgSource): string {
  return src.table !== undefined ? `${quoteQualified(src.table)} AS src` : `(${src.query}) AS src`;
}

/** A short name of the source for item ids and groups. */
export function sourceName(src: PgSource): string {
  return src.table ?? 'query';
}

export interface ColumnInfo {
  name: string;
  /** format_type() text, e.g. "timestamp with time zone", used to cast parameters */
  type: string;
}

/**
 * Connect, check the relation exists and return its columns. InputError for everything the user
 * can fix: unreachable server, unknown database, unknown table, a query that does not run.
 */
export async function describeSource(src: PgSource, what = '--from'): Promise<ColumnInfo[]> {
  checkPgUrl(src.url, what);
  const pool = pgPool(src.url);
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (err) {
    const e = toError(err) as Error & { code?: string };
    throw new InputError(
      `${what} ${safeUrl(src.url)}: cannot connect to PostgreSQL (${e.code ?? e.name}: ${e.message}); check the host, port, database and credentials`,
      { cause: err },
    );
  }
  try {
    if (src.table !== undefined) {
      const r = await client.query('SELECT to_regclass($1) AS oid', [src.table.split('.').map(quoteIdent).join('.')]);
      if (!r.rows[0]?.oid)
        throw new InputError(
          `${what}: table "${src.table}" does not exist in ${safeUrl(src.url)}; check the name (schema.table) and the database`,
        );
    }
    let fields: { name: string; dataTypeID: number }[];
    try {
      fields = (await client.query(`SELECT * FROM ${sourceRelation(src)} LIMIT 0`)).fields;
    } catch (err) {
      throw new InputError(
        `${what}: the source ${src.table ? `table "${src.table}"` : 'query'} cannot be read: ${toError(err).message}`,
        { cause: err },
      );
    }
    const oids = [...new Set(fields.map((f) => f.dataTypeID))];
    const types = await client.query(
      'SELECT oid::int AS oid, format_type(oid, NULL) AS t FROM pg_type WHERE oid = ANY($1::oid[])',
      [oids],
    );
    const byOid = new Map<number, string>(types.rows.map((r: { oid: number; t: string }) => [r.oid, r.t]));
    return fields.map((f) => ({ name: f.name, type: byOid.get(f.dataTypeID) ?? 'text' }));
  } finally {
    client.release();
  }
}

/** InputError unless every named column exists. */
export function requireColumns(columns: ColumnInfo[], names: string[], what: string): ColumnInfo[] {
  return names.map((n) => {
    const c = columns.find((col) => col.name === n);
    if (!c)
      throw new InputError(
        `${what}: unknown column "${n}"; the source's columns are: ${columns.map((x) => x.name).join(', ')}`,
      );
    return c;
  });
}

/** Primary key columns of a table (empty for queries or tables without one). */
export async function primaryKeyColumns(url: string, table: string): Promise<string[]> {
  const r = await pgPool(url).query(
    `SELECT a.attname AS name FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
     WHERE i.indrelid = to_regclass($1) AND i.indisprimary ORDER BY array_position(i.indkey, a.attnum)`,
    [table.split('.').map(quoteIdent).join('.')],
  );
  return r.rows.map((x: { name: string }) => x.name);
}
