import type { PostgresPool, PostgresPoolClient } from 'kysely';
import type pg from 'pg';
import { isStoreUnavailable } from '../unavailable.ts';

/** How long the pool refuses at once after it found Postgres unreachable, before it tries again. */
const HOLD_AFTER_FAILURE_MS = 1_000;

/** A failure of the link or the server process, not an error the server answered a statement with. */
function isLinkFailure(error: unknown): boolean {
  // A DatabaseError (it has a severity) came over a working connection: statement_timeout, a lock, ...
  return isStoreUnavailable(error) && (error as { severity?: unknown }).severity === undefined;
}

/**
 * The pg pool as Kysely sees it, made safe for outages (REL-F4, REL-F10):
 * - a client whose query failed at the link (query_timeout, a dropped connection) is gone: pg keeps a
 *   timed-out query as its active one, so every later query would queue behind a reply that may never
 *   come. Its next queries (a transaction's ROLLBACK) fail at once and it is destroyed on release;
 * - a checked-out client whose connection dies gets a listener: pg emits 'error' on it, and with no
 *   listener (pg-pool only listens while a client is idle) that would end the process;
 * - after a link failure the pool refuses for a second without waiting, so one request that looks
 *   twice (oidc-provider reloads the client to render its error) or a crowd of them do not each sit
 *   out the connect timeout again: the outage is answered promptly and waiters do not pile up.
 */
export function guardedPool(pool: pg.Pool, onConnectionError: (error: Error) => void): PostgresPool {
  let failedAt = Number.NEGATIVE_INFINITY;
  let lastFailure: unknown;
  const noteFailure = (error: unknown) => {
    if (!isLinkFailure(error)) return;
    failedAt = Date.now();
    lastFailure = error;
  };

  return {
    async connect() {
      if (Date.now() - failedAt < HOLD_AFTER_FAILURE_MS) {
        throw new Error('Postgres was unreachable a moment ago; not retried yet', { cause: lastFailure });
      }
      let client: pg.PoolClient;
      try {
        client = await pool.connect();
      } catch (error) {
        noteFailure(error);
        throw error;
      }
      let broken: unknown;
      const onError = (error: Error) => {
        broken ??= error;
        noteFailure(error);
        onConnectionError(error);
      };
      client.on('error', onError);
      return {
        // Kysely calls query(sql, parameters) only (no cursor is configured), hence the one overload.
        query: (async (sql: string, parameters: readonly unknown[]) => {
          if (broken !== undefined) throw new Error('this Postgres connection was lost', { cause: broken });
          try {
            return await client.query(sql, [...parameters]);
          } catch (error) {
            if (isLinkFailure(error)) {
              broken = error;
              noteFailure(error);
            }
            throw error;
          }
        }) as unknown as PostgresPoolClient['query'],
        release(destroy?: boolean) {
          client.removeListener('error', onError);
          client.release(destroy === true || broken !== undefined);
        },
      };
    },
    end: () => pool.end(),
  };
}
