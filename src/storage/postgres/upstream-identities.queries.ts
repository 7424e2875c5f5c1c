import { sql } from 'kysely';
import type { Db } from './db.ts';
import type { UpstreamIdentityRow } from './database.ts';

/** The account an upstream identity is linked to: by (provider, sub) only, never by email. */
export function findUpstreamIdentity(db: Db, provider: string, subject: string): Promise<UpstreamIdentityRow | undefined> {
  return db.selectFrom('upstream_identities').selectAll().where('provider', '=', provider).where('subject', '=', subject).executeTakeFirst();
}

export function listUpstreamIdentities(db: Db, accountId: string): Promise<UpstreamIdentityRow[]> {
  return db.selectFrom('upstream_identities').selectAll().where('account_id', '=', accountId).orderBy('provider').execute();
}

/**
 * Links an identity to an account. Returns false, changing nothing, when the identity is already linked
 * (to this account or another) or the account already has an identity at this provider.
 */
export async function insertUpstreamIdentity(
  db: Db,
  row: { provider: string; subject: string; accountId: string; email: string | null; addressUnproven: boolean; now: Date },
): Promise<boolean> {
  const inserted = await db
    .insertInto('upstream_identities')
    .values({ provider: row.provider, subject: row.subject, account_id: row.accountId, email: row.email, address_unproven: row.addressUnproven, created_at: row.now, last_used_at: row.now })
    .onConflict((conflict) => conflict.doNothing())
    .returning('subject')
    .execute();
  return inserted.length > 0;
}

export async function touchUpstreamIdentity(db: Db, provider: string, subject: string, now: Date): Promise<void> {
  await db.updateTable('upstream_identities').set({ last_used_at: now }).where('provider', '=', provider).where('subject', '=', subject).execute();
}

/**
 * Unlinks the account's identity at `provider` unless it is the account's last way to sign in (no
 * password, no passkey, no other identity at a provider still in `configured`: one whose settings were
 * removed signs no one in). The account row is locked first, so two unlinks at once cannot each see the
 * other identity still there and leave the account with none.
 */
export async function deleteUpstreamIdentityUnlessLast(
  db: Db,
  accountId: string,
  provider: string,
  configured: readonly string[],
): Promise<'unlinked' | 'last_method' | 'not_linked'> {
  const others = configured.filter((id) => id !== provider);
  return db.transaction().execute(async (trx) => {
    const account = await trx.selectFrom('accounts').select('password_hash').where('id', '=', accountId).forUpdate().executeTakeFirst();
    if (!account) return 'not_linked';
    const counts = await trx
      .selectNoFrom((eb) => [
        eb.selectFrom('passkeys').select(sql<number>`count(*)::int`.as('n')).where('account_id', '=', accountId).as('passkeys'),
        eb
          .selectFrom('upstream_identities')
          .select(sql<number>`count(*)::int`.as('n'))
          .where('account_id', '=', accountId)
          // `in ()` is not SQL: with no other provider configured, match nothing.
          .where(others.length > 0 ? sql<boolean>`provider in (${sql.join(others)})` : sql<boolean>`false`)
          .as('others'),
        eb.selectFrom('upstream_identities').select(sql<number>`count(*)::int`.as('n')).where('account_id', '=', accountId).where('provider', '=', provider).as('this'),
      ])
      .executeTakeFirstOrThrow();
    if (Number(counts.this) === 0) return 'not_linked';
    if (account.password_hash === null && Number(counts.passkeys) === 0 && Number(counts.others) === 0) return 'last_method';
    await trx.deleteFrom('upstream_identities').where('account_id', '=', accountId).where('provider', '=', provider).execute();
    return 'unlinked';
  });
}

/** Unlinks the identities linked while the account's address was unproven (see the migration); returns their providers. */
export async function deleteIdentitiesLinkedUnproven(db: Db, accountId: string): Promise<string[]> {
  const deleted = await db.deleteFrom('upstream_identities').where('account_id', '=', accountId).where('address_unproven', '=', true).returning('provider').execute();
  return deleted.map((row) => row.provider);
}
