import { sql } from 'kysely';
import type { Db } from './db.ts';

/**
 * Records that the account signed in from this browser. Returns whether the browser is new to the
 * account and whether the account had any known browser before (the first one is not news).
 * One statement decides "new" (the row lock serialises the upsert), so two sign-ins racing from the same
 * new browser mail once.
 */
export async function rememberDevice(db: Db, accountId: string, deviceHash: string, now: Date): Promise<{ isNew: boolean; hadOthers: boolean }> {
  // One statement for a known browser (the usual case): the upsert renews last_seen_at, and `xmax = 0`
  // tells a row this statement inserted from one it updated.
  const [row] = await db
    .insertInto('known_devices')
    .values({ account_id: accountId, device_hash: deviceHash, first_seen_at: now, last_seen_at: now })
    .onConflict((conflict) => conflict.columns(['account_id', 'device_hash']).doUpdateSet({ last_seen_at: now }))
    .returning(sql<boolean>`xmax = 0`.as('inserted'))
    .execute();
  if (!row?.inserted) return { isNew: false, hadOthers: true };
  const others = await db
    .selectFrom('known_devices')
    .select('device_hash')
    .where('account_id', '=', accountId)
    .where('device_hash', '!=', deviceHash)
    .limit(1)
    .execute();
  return { isNew: true, hadOthers: others.length > 0 };
}
