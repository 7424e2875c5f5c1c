import type { Db } from './db.ts';
import type { AccountTokenPurpose, AccountTokenRow } from './database.ts';

export interface NewAccountToken {
  accountId: string;
  purpose: AccountTokenPurpose;
  tokenHash: string;
  email: string;
  createdAt: Date;
  expiresAt: Date;
}

export async function insertAccountToken(db: Db, token: NewAccountToken): Promise<void> {
  await db
    .insertInto('account_tokens')
    .values({
      account_id: token.accountId,
      purpose: token.purpose,
      token_hash: token.tokenHash,
      email: token.email,
      created_at: token.createdAt,
      expires_at: token.expiresAt,
    })
    .execute();
}

/** Retires every unused token of this purpose for the account (a new request replaces older links). */
export async function retireAccountTokens(db: Db, accountId: string, purpose: AccountTokenPurpose, now: Date): Promise<void> {
  await db
    .updateTable('account_tokens')
    .set({ used_at: now })
    .where('account_id', '=', accountId)
    .where('purpose', '=', purpose)
    .where('used_at', 'is', null)
    .execute();
}

/** An unused, unexpired token by its hash (a look that uses nothing up: for showing a form). */
export function findUsableAccountToken(db: Db, tokenHash: string, purpose: AccountTokenPurpose, now: Date): Promise<AccountTokenRow | undefined> {
  return db
    .selectFrom('account_tokens')
    .selectAll()
    .where('token_hash', '=', tokenHash)
    .where('purpose', '=', purpose)
    .where('used_at', 'is', null)
    .where('expires_at', '>', now)
    .executeTakeFirst();
}

/**
 * Uses a token up in one statement: of any number of concurrent calls with the same token, exactly one
 * gets the row back; a used, expired or unknown token gives undefined.
 */
export function consumeAccountToken(db: Db, tokenHash: string, purpose: AccountTokenPurpose, now: Date): Promise<AccountTokenRow | undefined> {
  return db
    .updateTable('account_tokens')
    .set({ used_at: now })
    .where('token_hash', '=', tokenHash)
    .where('purpose', '=', purpose)
    .where('used_at', 'is', null)
    .where('expires_at', '>', now)
    .returningAll()
    .executeTakeFirst();
}

/** When the newest token of this purpose was issued (for a resend cooldown), if any. */
export async function latestAccountTokenAt(db: Db, accountId: string, purpose: AccountTokenPurpose): Promise<Date | undefined> {
  const row = await db
    .selectFrom('account_tokens')
    .select('created_at')
    .where('account_id', '=', accountId)
    .where('purpose', '=', purpose)
    .orderBy('created_at', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row ? new Date(row.created_at) : undefined;
}
