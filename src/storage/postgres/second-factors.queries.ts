import { sql } from 'kysely';
import type { Db } from './db.ts';

/** Whether the account has an activated authenticator app, and how many passkeys: one statement, asked at every sign-in. */
export async function findEnrolledFactors(db: Db, accountId: string): Promise<{ totp: boolean; passkeys: number }> {
  const row = await db
    .selectNoFrom((eb) => [
      eb.exists(eb.selectFrom('account_totp').select(sql`1`.as('one')).where('account_id', '=', accountId).where('activated_at', 'is not', null)).as('totp'),
      eb.selectFrom('passkeys').select((inner) => inner.fn.countAll<string | number>().as('n')).where('account_id', '=', accountId).as('passkeys'),
    ])
    .executeTakeFirstOrThrow();
  return { totp: Boolean(row.totp), passkeys: Number(row.passkeys ?? 0) };
}
