import { sql } from 'kysely';
import type { Db } from './db.ts';

/** The columns that hold secrets sealed under KEY_ENCRYPTION_KEY (src/security/encryption.ts), by table. */
export const SEALED_COLUMNS = {
  account_totp: { id: 'account_id', sealed: 'secret_encrypted' },
  signing_keys: { id: 'kid', sealed: 'private_jwk_encrypted' },
} as const;

export type SealedTable = keyof typeof SEALED_COLUMNS;

export interface SealedRow {
  id: string;
  sealed: string;
}

const columns = (table: SealedTable) => ({ id: sql.ref(SEALED_COLUMNS[table].id), sealed: sql.ref(SEALED_COLUMNS[table].sealed) });

/**
 * How many secrets each key sealed: `key_id` is the v2 key id, or null for v1 ciphertexts (no id).
 * A full scan without decrypting anything: fine at start for tables of one row per account.
 */
export async function countSealedByKey(db: Db, table: SealedTable): Promise<{ key_id: string | null; count: number }[]> {
  const { sealed } = columns(table);
  const result = await sql<{ key_id: string | null; count: number }>`
    select case when split_part(${sealed}, '.', 1) = 'v2' then split_part(${sealed}, '.', 2) end as key_id, count(*)::int as count
    from ${sql.table(table)} group by 1`.execute(db);
  return result.rows;
}

/** One v1 secret (sealed before key ids), to find out which configured key, if any, opens them. */
export async function findLegacySealed(db: Db, table: SealedTable): Promise<SealedRow | undefined> {
  const { id, sealed } = columns(table);
  const result = await sql<SealedRow>`
    select ${id} as id, ${sealed} as sealed from ${sql.table(table)} where split_part(${sealed}, '.', 1) = 'v1' limit 1`.execute(db);
  return result.rows[0];
}

/**
 * Up to `limit` secrets not sealed under `keyId`, locked until the transaction ends, so a concurrent
 * write of the same row (a TOTP re-enrolment) waits instead of being overwritten with the old seed.
 */
export async function lockSealedNotUnderKey(trx: Db, table: SealedTable, keyId: string, limit: number): Promise<SealedRow[]> {
  const { id, sealed } = columns(table);
  const result = await sql<SealedRow>`
    select ${id} as id, ${sealed} as sealed from ${sql.table(table)}
    where split_part(${sealed}, '.', 1) <> 'v2' or split_part(${sealed}, '.', 2) <> ${keyId}
    order by ${id} limit ${limit} for update`.execute(trx);
  return result.rows;
}

export async function countSealed(db: Db, table: SealedTable): Promise<number> {
  const result = await sql<{ count: number }>`select count(*)::int as count from ${sql.table(table)}`.execute(db);
  return result.rows[0]?.count ?? 0;
}

/** Replaces one row's secret, only if it still holds `previous` (the row is locked, so it does). */
export async function replaceSealed(trx: Db, table: SealedTable, rowId: string, previous: string, next: string): Promise<void> {
  const { id, sealed } = columns(table);
  await sql`update ${sql.table(table)} set ${sealed} = ${next} where ${id} = ${rowId} and ${sealed} = ${previous}`.execute(trx);
}
