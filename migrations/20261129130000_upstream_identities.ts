import { sql, type Kysely } from 'kysely';

/**
 * Accounts' identities at upstream OpenID providers (issue 12). An identity is the pair (provider,
 * upstream `sub`) and is the only way an upstream sign-in finds an account: never the upstream's email,
 * which anyone may be able to claim there. One identity per provider per account keeps "unlink Google"
 * unambiguous. `email` is what the upstream said when it was linked, shown on the account page only.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('upstream_identities')
    .addColumn('provider', 'text', (col) => col.notNull())
    .addColumn('subject', 'text', (col) => col.notNull())
    .addColumn('account_id', 'uuid', (col) => col.notNull().references('accounts.id').onDelete('cascade'))
    .addColumn('email', 'text')
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn('last_used_at', 'timestamptz')
    .addPrimaryKeyConstraint('upstream_identities_pk', ['provider', 'subject'])
    .addUniqueConstraint('upstream_identities_account_provider', ['account_id', 'provider'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('upstream_identities').execute();
}
