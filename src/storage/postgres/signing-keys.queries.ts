import type { Db } from './db.ts';
import type { SigningKeyRow, SigningKeysTable } from './database.ts';
import type { Insertable } from 'kysely';

/** Keys still published in JWKS: next, current, and retired ones whose tokens may still be live. */
export function listPublishedSigningKeys(db: Db, now: Date): Promise<SigningKeyRow[]> {
  return db
    .selectFrom('signing_keys')
    .selectAll()
    .where((eb) => eb.or([eb('remove_after', 'is', null), eb('remove_after', '>', now)]))
    .orderBy('activates_at', 'desc')
    .orderBy('created_at', 'desc')
    .execute();
}

export function listAllSigningKeys(db: Db): Promise<SigningKeyRow[]> {
  return db.selectFrom('signing_keys').selectAll().orderBy('created_at').execute();
}

export function insertSigningKey(db: Db, key: Insertable<SigningKeysTable>): Promise<unknown> {
  return db.insertInto('signing_keys').values(key).execute();
}

/** Promotes `next` keys whose time has come; returns how many changed. */
export async function activateDueSigningKeys(db: Db, now: Date): Promise<number> {
  const activated = await db
    .updateTable('signing_keys')
    .set({ status: 'current' })
    .where('status', '=', 'next')
    .where('activates_at', '<=', now)
    .returning('kid')
    .execute();
  return activated.length;
}

/** Retires every current key of `alg` except `keepKid`, keeping it in JWKS until `removeAfter`. */
export async function retireSigningKeys(db: Db, alg: string, keepKid: string, now: Date, removeAfter: Date): Promise<number> {
  const retired = await db
    .updateTable('signing_keys')
    .set({ status: 'retired', retired_at: now, remove_after: removeAfter })
    .where('alg', '=', alg)
    .where('status', '=', 'current')
    .where('kid', '!=', keepKid)
    .returning('kid')
    .execute();
  return retired.length;
}
