import { resolve } from 'node:path';
import { Kysely, PostgresDialect, type DatabaseConnection, type Dialect, type Driver, type QueryResult, type TransactionSettings } from 'kysely';
import pg from 'pg';
import { DEFAULT_DATABASE_TIMEOUTS, type DatabaseConfig, type DatabaseTimeouts } from '../../config/load.ts';
import { registerChangeFeeds } from './change-feed.ts';
import { lockDataDir } from './data-dir-lock.ts';
import type { Database } from './database.ts';
import { guardedPool } from './guarded-pool.ts';
import { reportingErrors, type DatabaseErrorListener } from './error-reporting-driver.ts';

export type Db = Kysely<Database>;

export interface DatabaseHandle {
  readonly db: Db;
  readonly kind: DatabaseConfig['kind'];
  /** pg's pool counts, read by the metrics at each scrape; none on the embedded store (one in-process connection). */
  readonly pool?: { readonly totalCount: number; readonly idleCount: number; readonly waitingCount: number };
  close(): Promise<void>;
}

/**
 * PGlite is one connection. kysely-pglite hands the same client to every caller, so a transaction's
 * BEGIN..COMMIT would interleave with concurrent queries; this driver lends the connection to one caller
 * at a time (as Kysely's SQLite driver does) so transactions stay isolated.
 */
class SerializedDriver implements Driver {
  readonly #inner: Driver;
  #queue: Promise<void> = Promise.resolve();
  #release: (() => void) | undefined;

  constructor(inner: Driver) {
    this.#inner = inner;
  }

  init(): Promise<void> {
    return this.#inner.init();
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    const previous = this.#queue;
    let release!: () => void;
    this.#queue = new Promise((resolveRelease) => (release = resolveRelease));
    await previous;
    this.#release = release;
    return withAffectedRows(await this.#inner.acquireConnection());
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    await this.#inner.releaseConnection(connection);
    const release = this.#release;
    this.#release = undefined;
    release?.();
  }

  beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    return this.#inner.beginTransaction(connection, settings);
  }

  commitTransaction(connection: DatabaseConnection): Promise<void> {
    return this.#inner.commitTransaction(connection);
  }

  rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    return this.#inner.rollbackTransaction(connection);
  }

  destroy(): Promise<void> {
    return this.#inner.destroy();
  }
}

/**
 * PGlite reports `affectedRows` where Kysely reads `numAffectedRows`; without this every UPDATE and
 * DELETE on the embedded store would claim to have changed nothing.
 */
function withAffectedRows(connection: DatabaseConnection): DatabaseConnection {
  return {
    async executeQuery(query) {
      const result = (await connection.executeQuery(query)) as QueryResult<unknown> & { affectedRows?: number };
      if (result.numAffectedRows === undefined && typeof result.affectedRows === 'number') {
        return { ...result, numAffectedRows: BigInt(result.affectedRows) };
      }
      return result;
    },
    streamQuery: (query, chunkSize) => connection.streamQuery(query, chunkSize),
  } as DatabaseConnection;
}

async function openEmbedded(dataDir: string, onError: DatabaseErrorListener): Promise<DatabaseHandle> {
  const memory = dataDir.startsWith('memory://');
  const unlock = memory ? async () => {} : await lockDataDir(dataDir);
  // Loaded only here: kysely-pglite's entry point pulls in its code generator and CLI (about a second and
  // 70 MB at start-up), which a server on Postgres never needs.
  const [{ PGlite }, { KyselyPGlite }] = await Promise.all([import('@electric-sql/pglite'), import('kysely-pglite')]);
  // No dataDir at all for memory: kysely-pglite would otherwise mkdir a folder literally named "memory:".
  const client = await PGlite.create(memory ? {} : { dataDir: resolve(dataDir, 'pglite') });
  const base = new KyselyPGlite(client).dialect;
  const dialect: Dialect = { ...base, createDriver: () => new SerializedDriver(base.createDriver()) };
  const db = new Kysely<Database>({ dialect: reportingErrors(dialect, onError) });
  return {
    db,
    kind: 'embedded',
    async close() {
      await db.destroy();
      await unlock();
    },
  };
}

/**
 * A request waits at most `connectMs` for a connection (a new one or a free pooled one) and about
 * `statementMs` for a statement, then fails and is answered 503 (REL-F4, REL-F10):
 * - statement_timeout ends a slow statement on the server (a lock, pg_sleep) and frees its connection;
 * - query_timeout, a second later, ends the wait on our side when no answer can come (a black-holed link);
 * - idle_in_transaction_session_timeout lets the server roll back a transaction whose client vanished,
 *   so its row locks do not block the other replicas;
 * - TCP keep-alive notices a dead idle connection before a request picks it;
 * - guardedPool (guarded-pool.ts) drops connections that failed and answers promptly during an outage.
 */
function openPostgres(url: string, poolMax: number, timeouts: DatabaseTimeouts, onIdleError: (error: Error) => void, onError: DatabaseErrorListener): DatabaseHandle {
  const pool = new pg.Pool({
    connectionString: url,
    max: poolMax,
    connectionTimeoutMillis: timeouts.connectMs,
    statement_timeout: timeouts.statementMs,
    query_timeout: timeouts.statementMs + 1_000,
    idle_in_transaction_session_timeout: timeouts.statementMs * 2,
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
  });
  // An idle pooled connection that dies (server restart, failover, admin kill) is dropped by pg and
  // replaced on the next query; without a listener that event would crash the whole process.
  pool.on('error', onIdleError);
  const db = new Kysely<Database>({ dialect: reportingErrors(new PostgresDialect({ pool: guardedPool(pool, onIdleError) }), onError) });
  // LISTEN connections for caches (change-feed.ts), opened only if a cache asks for one.
  const closeFeeds = registerChangeFeeds(db, url, timeouts.connectMs);
  return {
    db,
    kind: 'postgres',
    pool,
    async close() {
      await closeFeeds();
      await db.destroy();
    },
  };
}

/**
 * Opens the configured database: a pg pool, or the embedded PGlite store under DATA_DIR.
 * `onIdleError` hears about pooled connections lost while idle (they are replaced automatically);
 * `onError` about every failed query and connection attempt (rethrown to the caller as ever).
 */
export async function openDatabase(config: DatabaseConfig, onIdleError: (error: Error) => void = () => {}, onError: DatabaseErrorListener = () => {}): Promise<DatabaseHandle> {
  return config.kind === 'postgres'
    ? openPostgres(config.url, config.poolMax, config.timeouts ?? DEFAULT_DATABASE_TIMEOUTS, onIdleError, onError)
    : openEmbedded(config.dataDir, onError);
}
