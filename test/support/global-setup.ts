import pg from 'pg';
import { Redis } from 'ioredis';

/**
 * When DATABASE_URL / REDIS_URL are set the run must use them: fail loudly if they do not answer,
 * rather than letting the storage tests quietly run on the embedded store alone.
 */
export default async function globalSetup(): Promise<void> {
  const problems: string[] = [];
  if (process.env.DATABASE_URL) {
    const client = new pg.Client({ connectionString: process.env.DATABASE_URL, connectionTimeoutMillis: 5000 });
    try {
      await client.connect();
      await client.query('select 1');
    } catch (error) {
      problems.push(`DATABASE_URL is set but Postgres does not answer: ${(error as Error).message}`);
    } finally {
      await client.end().catch(() => {});
    }
  }
  if (process.env.REDIS_URL) {
    const redis = new Redis(process.env.REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 5000 });
    try {
      await redis.connect();
      await redis.ping();
    } catch (error) {
      problems.push(`REDIS_URL is set but Redis does not answer: ${(error as Error).message}`);
    } finally {
      redis.disconnect();
    }
  }
  if (problems.length > 0) throw new Error(problems.join('\n'));
}
