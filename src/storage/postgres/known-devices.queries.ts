import type { Db } from './db.ts';

/**
 * Records that the account signed in from this browser. Returns whether the browser is new to the
 * account and whether the account had any known browser before (the first one is not news).
 * One INSERT decides "new", so two sign-ins racing from the same new browser mail once.
 */
export async function rememberDevice(db: Db, accountId: string, deviceHash: string, now: Date): Promise<{ isNew: boolean; hadOthers: boolean }> {
  const inserted = await db
    .insertInto('known_devices')
    .values({ account_id: accountId, device_hash: deviceHash, first_seen_at: now, last_seen_at: now })
    .onConflict((conflict) => conflict.columns(['account_id', 'device_hash']).doNothing())
    .returning('account_id')
    .execute();
  if (inserted.length === 0) {
    await db.updateTable('known_devices').set({ last_seen_at: now }).where('account_id', '=', accountId).where('device_hash', '=', deviceHash).execute();
    return { isNew: false, hadOthers: true };
  }
  const others = await db
    .selectFrom('known_devices')
    .select('device_hash')
    .where('account_id', '=', accountId)
    .where('device_hash', '!=', deviceHash)
    .limit(1)
    .execute();
  return { isNew: true, hadOthers: others.length > 0 };
}
