import { sql, type Kysely } from 'kysely';

/**
 * Accounts' identities at upstream OpenID providers (issue 12). An identity is the pair (provider,
 * upstream `sub`) and is the only way an upstream sign-in finds an account: never the upstream's email,
 * which anyone may be able to claim there. One identity per provider per account keeps "unlink Google"
 * unambiguous. `email` is what the upstream said when it was linked, shown on the account page only.
 * `address_unproven`: the account's address had not been proven by mail when the identity was linked
 * (say, an account made for an upstream that did not verify it). Whoever later proves the mailbox with a
 * password reset gets the account without such identities: otherwise someone holding an upstream account
 * with a victim's address, made before the victim ever came, would keep a way into the victim's account.
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
    .addColumn('address_unproven', 'boolean', (col) => col.notNull().defaultTo(false))
    .addPrimaryKeyConstraint('upstream_identities_pk', ['provider', 'subject'])
    .addUniqueConstraint('upstream_identities_account_provider', ['account_id', 'provider'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('upstream_identities').execute();
}
