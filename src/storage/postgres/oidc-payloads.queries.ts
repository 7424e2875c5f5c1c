import { sql, type ExpressionBuilder } from 'kysely';
import type { Database, OidcPayloadRow } from './database.ts';
import type { Db } from './db.ts';

/** One oidc-provider record as written by the adapter; the index columns are derived by the caller. */
export interface OidcPayloadWrite {
  model: string;
  id: string;
  payload: Record<string, unknown>;
  grantId: string | null;
  accountId: string | null;
  userCode: string | null;
  uid: string | null;
  /** Seconds from now (database clock); undefined: never expires. */
  expiresIn: number | undefined;
  consumedAt: Date | null;
}

/**
 * Expired rows are absent to every read, so nothing depends on the cleanup job having run. Expiry uses
 * the database clock on both sides (now() here, now() when written) so app clock skew cannot shift it.
 */
function isLive(eb: ExpressionBuilder<Database, 'oidc_payloads'>) {
  return eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', sql<Date>`now()`)]);
}

/** Inserts or replaces a record, index columns included, so an overwrite re-indexes it. */
export async function upsertPayload(db: Db, write: OidcPayloadWrite): Promise<void> {
  const row = {
    payload: JSON.stringify(write.payload),
    grant_id: write.grantId,
    account_id: write.accountId,
    user_code: write.userCode,
    uid: write.uid,
    expires_at:
      write.expiresIn === undefined
        ? null
        : sql<Date>`now() + make_interval(secs => ${write.expiresIn}::double precision)`,
    consumed_at: write.consumedAt,
  };
  await db
    .insertInto('oidc_payloads')
    .values({ model: write.model, id: write.id, ...row })
    .onConflict((oc) => oc.columns(['model', 'id']).doUpdateSet(row))
    .execute();
}

export function findLivePayload(db: Db, model: string, id: string): Promise<OidcPayloadRow | undefined> {
  return db
    .selectFrom('oidc_payloads')
    .selectAll()
    .where('model', '=', model)
    .where('id', '=', id)
    .where(isLive)
    .executeTakeFirst();
}

export function findLivePayloadByUid(db: Db, model: string, uid: string): Promise<OidcPayloadRow | undefined> {
  return db
    .selectFrom('oidc_payloads')
    .selectAll()
    .where('model', '=', model)
    .where('uid', '=', uid)
    .where(isLive)
    .executeTakeFirst();
}

export function findLivePayloadByUserCode(
  db: Db,
  model: string,
  userCode: string,
): Promise<OidcPayloadRow | undefined> {
  return db
    .selectFrom('oidc_payloads')
    .selectAll()
    .where('model', '=', model)
    .where('user_code', '=', userCode)
    .where(isLive)
    .executeTakeFirst();
}

/**
 * Marks a live, unconsumed record consumed in one statement; returns whether this call did it. Under
 * concurrency Postgres serialises the UPDATEs on the row lock and re-checks `consumed_at is null` after
 * the wait, so exactly one caller gets true.
 */
export async function markPayloadConsumed(db: Db, model: string, id: string): Promise<boolean> {
  const row = await db
    .updateTable('oidc_payloads')
    .set({ consumed_at: sql<Date>`now()` })
    .where('model', '=', model)
    .where('id', '=', id)
    .where('consumed_at', 'is', null)
    .where(isLive)
    .returning('id')
    .executeTakeFirst();
  return row !== undefined;
}

export async function deletePayload(db: Db, model: string, id: string): Promise<void> {
  await db.deleteFrom('oidc_payloads').where('model', '=', model).where('id', '=', id).execute();
}

/** Deletes every record of any model carrying this grant_id (only grantable models carry one). */
export async function deletePayloadsByGrantId(db: Db, grantId: string): Promise<void> {
  await db.deleteFrom('oidc_payloads').where('grant_id', '=', grantId).execute();
}

/** Deletes every session, grant, code and token of one account. */
export async function deletePayloadsByAccountId(db: Db, accountId: string): Promise<void> {
  await db.deleteFrom('oidc_payloads').where('account_id', '=', accountId).execute();
}

/**
 * Cleanup job: removes rows that expired at or before `now`; returns how many. Counted with RETURNING
 * because kysely-pglite reports numDeletedRows as 0 on the embedded store.
 */
export async function deleteExpiredPayloads(db: Db, now: Date): Promise<number> {
  const rows = await db.deleteFrom('oidc_payloads').where('expires_at', '<=', now).returning('id').execute();
  return rows.length;
}
