import type { Db } from './db.ts';

/** Replaces every code of the account with new hashes (regenerating invalidates all old codes). */
export async function replaceRecoveryCodes(db: Db, accountId: string, hashes: readonly string[], now: Date): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await trx.deleteFrom('recovery_codes').where('account_id', '=', accountId).execute();
    await trx.insertInto('recovery_codes').values(hashes.map((code_hash) => ({ account_id: accountId, code_hash, created_at: now }))).execute();
  });
}

export function listUnusedRecoveryCodes(db: Db, accountId: string): Promise<Array<{ id: string; code_hash: string }>> {
  return db.selectFrom('recovery_codes').select(['id', 'code_hash']).where('account_id', '=', accountId).where('used_at', 'is', null).execute();
}

/** Uses one code up, atomically: of concurrent uses of the same code exactly one gets true. */
export async function markRecoveryCodeUsed(db: Db, id: string, now: Date): Promise<boolean> {
  const rows = await db.updateTable('recovery_codes').set({ used_at: now }).where('id', '=', id).where('used_at', 'is', null).returning('id').execute();
  return rows.length > 0;
}

export async function deleteRecoveryCodes(db: Db, accountId: string): Promise<void> {
  await db.deleteFrom('recovery_codes').where('account_id', '=', accountId).execute();
}
