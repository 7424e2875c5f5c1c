import { sql, type Kysely } from 'kysely';

/**
 * A client's previous secret while a rotation's overlap lasts (REL-F7, `gatehouse client rotate-secret`):
 * at most one per client, kept as SHA-256 only (it is compared, never used as a key), and accepted at
 * client authentication until expires_at. The current secret stays in the client's metadata.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('client_previous_secrets')
    .addColumn('client_id', 'text', (col) => col.primaryKey().references('clients.id').onDelete('cascade'))
    .addColumn('secret_sha256', 'text', (col) => col.notNull())
    .addColumn('expires_at', 'timestamptz', (col) => col.notNull())
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('client_previous_secrets').execute();
}
