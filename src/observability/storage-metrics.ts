import { Gauge, type Registry } from 'prom-client';
import type { Metrics } from './metrics.ts';

/** What is read from the Redis client (only storage/redis knows ioredis itself). */
export interface WatchedRedis {
  on(event: 'error', listener: (error: Error) => void): unknown;
  readonly status: string;
}

/** pg.Pool's own counts, read at each scrape. */
export interface PoolCounts {
  readonly totalCount: number;
  readonly idleCount: number;
  readonly waitingCount: number;
}

/** Connection errors as they happen, and whether the client is connected right now (read at each scrape). */
export function watchRedis(redis: WatchedRedis, metrics: Metrics): void {
  redis.on('error', () => metrics.redisErrors.inc());
  new Gauge({
    name: 'gatehouse_redis_up',
    help: '1 when the Redis client is connected and ready, else 0.',
    registers: [metrics.registry],
    collect() {
      this.set(redis.status === 'ready' ? 1 : 0);
    },
  });
}

/** Pool use, read at each scrape (Postgres only: the embedded store is one in-process connection). */
export function watchPool(pool: PoolCounts, registry: Registry): void {
  const gauge = (name: string, help: string, read: () => number) =>
    new Gauge({ name, help, registers: [registry], collect() { this.set(read()); } });
  gauge('gatehouse_postgres_pool_connections', 'Open connections in the Postgres pool (idle and in use).', () => pool.totalCount);
  gauge('gatehouse_postgres_pool_idle_connections', 'Pool connections not in use.', () => pool.idleCount);
  gauge('gatehouse_postgres_pool_waiting_requests', 'Queries waiting for a pool connection (all are in use: DATABASE_POOL_MAX may be low).', () => pool.waitingCount);
}

/**
 * The SQLSTATE class of a database error (two characters: 23 integrity, 40 rollback, 53 resources, 57
 * operator intervention, ...); "connection" when the server gave none: refused, lost or timed out.
 * A server error always carries `severity` beside its five-character code, which tells it apart from a
 * socket error whose code merely looks like one (EPIPE).
 */
export function sqlStateClass(error: unknown): string {
  const { code, severity } = (error ?? {}) as { code?: unknown; severity?: unknown };
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && typeof severity === 'string' ? code.slice(0, 2) : 'connection';
}

export function countPostgresError(error: unknown, metrics: Metrics): void {
  metrics.postgresErrors.inc({ class: sqlStateClass(error) });
}
