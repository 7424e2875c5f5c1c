import { CompiledQuery } from 'kysely';
import { RateLimiterPostgres } from 'rate-limiter-flexible';
import type { LimiterStore } from '../../security/rate-limits.ts';
import type { Db } from './db.ts';

/** The part of a node-postgres client RateLimiterPostgres calls: `query({ text, values })`. */
interface QueryClient {
  query(query: { text: string; values?: unknown[] }): Promise<{ rows: unknown[]; rowCount: number }>;
}

/**
 * Our Kysely database as the client RateLimiterPostgres expects, so its queries use the app's pool (and its
 * error handling) instead of a second one. Prepared-statement names are dropped: Kysely sends plain queries.
 */
function queryClient(db: Db): QueryClient {
  return {
    async query({ text, values = [] }) {
      const result = await db.executeQuery(CompiledQuery.raw(text, values));
      return { rows: result.rows, rowCount: result.numAffectedRows === undefined ? result.rows.length : Number(result.numAffectedRows) };
    },
  };
}

/**
 * Counters in the `rate_limits` table (migration 20261129071000), shared by every replica on one Postgres
 * when there is no Redis. Like the Redis store there is no in-memory fallback: when the database does not
 * answer, the check fails and the request is refused with 503 (ABU-04). The embedded store keeps counters in
 * memory instead (exact there: one process), since RateLimiterPostgres reads pg's string bigints.
 */
export function createPostgresLimiterStore(db: Db): LimiterStore {
  const client = queryClient(db);
  let cleaner = true;
  return (rule) => {
    const limiter = new RateLimiterPostgres({
      storeClient: client,
      storeType: 'client',
      tableName: 'rate_limits',
      tableCreated: true,
      // One limiter is enough to delete expired rows every 5 minutes (its timer is unref'd).
      clearExpiredByTimeout: cleaner,
      keyPrefix: `rl:${rule.name}`,
      points: rule.points,
      duration: rule.durationSeconds,
      blockDuration: rule.blockSeconds ?? 0,
    });
    cleaner = false;
    return limiter;
  };
}
