import type { Kysely } from 'kysely';

/**
 * One TOTP authenticator per account. The seed is encrypted (KEY_ENCRYPTION_KEY, AES-256-GCM, bound to
 * the account id); last_used_step makes each code single use; failed_attempts / locked_at count wrong
 * codes per account across sign-ins (MFA-02, MFA-04).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('account_totp')
    .addColumn('account_id', 'uuid', (col) => col.primaryKey().references('accounts.id').onDelete('cascade'))
    .addColumn('secret_encrypted', 'text', (col) => col.notNull())
    .addColumn('created_at', 'timestamptz', (col) => col.notNull())
    .addColumn('activated_at', 'timestamptz')
    .addColumn('last_used_step', 'bigint')
    .addColumn('failed_attempts', 'integer', (col) => col.notNull().defaultTo(0))
    .addColumn('locked_at', 'timestamptz')
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('account_totp').execute();
}
