import { sql, type Kysely } from 'kysely';

/**
 * The revocation epoch (REL-F13): one row, one instant. Every session, grant, code and token that
 * oidc-provider issued before it is treated as absent (src/storage/revocation-epoch.ts), wherever it is
 * stored. `gatehouse sessions revoke-all` moves it to now, after a Redis restore: a snapshot can bring back
 * codes and refresh tokens that were already used, grants already revoked and sessions already ended, and
 * all of them were issued before the restore. It lives in Postgres because that is the store the restore
 * did not touch.
 *
 * `singleton` (always true, the primary key) keeps the table at one row. The epoch starts at the Unix
 * epoch: nothing is revoked until the command first runs.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('revocation_epoch')
    .addColumn('singleton', 'boolean', (col) => col.primaryKey().defaultTo(true).check(sql`singleton`))
    .addColumn('revoked_before', 'timestamptz', (col) => col.notNull())
    .execute();
  await sql`insert into revocation_epoch (singleton, revoked_before) values (true, to_timestamp(0))`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('revocation_epoch').execute();
}
