import { sql, type Kysely } from 'kysely';

/**
 * rate_limits: the rate-limit counters when the database is the only shared store (DATABASE_URL without
 * REDIS_URL), shared by every replica. The layout is rate-limiter-flexible's RateLimiterPostgres table
 * (its own CREATE TABLE is switched off, so the schema is ours and versioned here): key is
 * `<limit name>:<key>`, points the count in the current window, expire its end in epoch milliseconds
 * (null: never). Expired rows are deleted by the library every 5 minutes.
 *
 * UNLOGGED: counters are short-lived and cheap to lose, so they skip the write-ahead log and its flush,
 * which would otherwise be most of a sign-in's limit cost. The price: after a database crash the table is
 * empty, and standbys do not have it (a failover starts every counter again). The accounts' own failure
 * counts and locks are ordinary columns and survive both.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('rate_limits')
    .modifyFront(sql`unlogged`)
    .addColumn('key', 'varchar(255)', (col) => col.primaryKey())
    .addColumn('points', 'integer', (col) => col.notNull().defaultTo(0))
    .addColumn('expire', 'bigint')
    .execute();
  await db.schema.createIndex('rate_limits_expire_idx').on('rate_limits').column('expire').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('rate_limits').execute();
}
