import type { CompiledQuery, DatabaseConnection, Dialect, Driver, QueryCompiler, QueryResult, TransactionSettings } from 'kysely';

/** Hears about every failed query and every connection that could not be had (the metrics count them). */
export type DatabaseErrorListener = (error: unknown) => void;

/**
 * A Kysely driver that reports each error of the driver it wraps and rethrows it unchanged. Kysely's
 * own `log` hook sees failed queries only, not a pool that cannot connect, which is what an outage
 * looks like. The driver gets its own connection objects back (pg's driver releases and discards
 * through private methods on them); callers get a wrapper whose queries report their errors.
 */
class ErrorReportingDriver implements Driver {
  readonly #inner: Driver;
  readonly #report: DatabaseErrorListener;
  readonly #own = new WeakMap<DatabaseConnection, DatabaseConnection>();

  constructor(inner: Driver, report: DatabaseErrorListener) {
    this.#inner = inner;
    this.#report = report;
    // Savepoints exist only where the wrapped driver has them (pg: yes; the serialized PGlite driver: no).
    const { savepoint, rollbackToSavepoint, releaseSavepoint } = inner;
    if (savepoint) this.savepoint = (c, name, compile) => this.#watch(savepoint.call(inner, this.#unwrap(c), name, compile));
    if (rollbackToSavepoint) this.rollbackToSavepoint = (c, name, compile) => this.#watch(rollbackToSavepoint.call(inner, this.#unwrap(c), name, compile));
    if (releaseSavepoint) this.releaseSavepoint = (c, name, compile) => this.#watch(releaseSavepoint.call(inner, this.#unwrap(c), name, compile));
  }

  savepoint?: (connection: DatabaseConnection, name: string, compile: QueryCompiler['compileQuery']) => Promise<void>;
  rollbackToSavepoint?: (connection: DatabaseConnection, name: string, compile: QueryCompiler['compileQuery']) => Promise<void>;
  releaseSavepoint?: (connection: DatabaseConnection, name: string, compile: QueryCompiler['compileQuery']) => Promise<void>;

  async #watch<T>(work: Promise<T>): Promise<T> {
    try {
      return await work;
    } catch (error) {
      this.#report(error);
      throw error;
    }
  }

  #unwrap(connection: DatabaseConnection): DatabaseConnection {
    return this.#own.get(connection) ?? connection;
  }

  init(): Promise<void> {
    return this.#watch(this.#inner.init());
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    const connection = await this.#watch(this.#inner.acquireConnection());
    const wrapper: DatabaseConnection = {
      executeQuery: <R>(query: CompiledQuery): Promise<QueryResult<R>> => this.#watch(connection.executeQuery<R>(query)),
      streamQuery: <R>(query: CompiledQuery, chunkSize?: number) => connection.streamQuery<R>(query, chunkSize),
    };
    this.#own.set(wrapper, connection);
    return wrapper;
  }

  beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    return this.#watch(this.#inner.beginTransaction(this.#unwrap(connection), settings));
  }

  commitTransaction(connection: DatabaseConnection): Promise<void> {
    return this.#watch(this.#inner.commitTransaction(this.#unwrap(connection)));
  }

  rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    return this.#watch(this.#inner.rollbackTransaction(this.#unwrap(connection)));
  }

  releaseConnection(connection: DatabaseConnection): Promise<void> {
    return this.#inner.releaseConnection(this.#unwrap(connection));
  }

  destroy(): Promise<void> {
    return this.#inner.destroy();
  }
}

/** `dialect` with its driver wrapped in ErrorReportingDriver (everything else as it was). */
export function reportingErrors(dialect: Dialect, report: DatabaseErrorListener): Dialect {
  return {
    createAdapter: () => dialect.createAdapter(),
    createDriver: () => new ErrorReportingDriver(dialect.createDriver(), report),
    createIntrospector: (db) => dialect.createIntrospector(db),
    createQueryCompiler: () => dialect.createQueryCompiler(),
  };
}
