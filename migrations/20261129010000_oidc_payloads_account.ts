import type { Kysely } from 'kysely';

/**
 * Indexes oidc-provider's records (sessions, grants, codes, tokens) by account, so a password reset or an
 * admin can end every session and revoke every grant and token of one account (REC-06).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('oidc_payloads').addColumn('account_id', 'text').execute();
  await db.schema.createIndex('oidc_payloads_account_id_idx').on('oidc_payloads').column('account_id').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('oidc_payloads_account_id_idx').execute();
  await db.schema.alterTable('oidc_payloads').dropColumn('account_id').execute();
}
