import { sql } from 'kysely';
import type { Db } from './db.ts';

/** The revocation epoch (REL-F13); the Unix epoch when it was never moved (or its row is missing). */
export async function findRevocationEpoch(db: Db): Promise<Date> {
  const row = await db.selectFrom('revocation_epoch').select('revoked_before').executeTakeFirst();
  return row ? new Date(row.revoked_before) : new Date(0);
}

/**
 * Moves the epoch to the database's now() and returns it. Never backwards: with clocks apart, a later
 * call cannot bring back what an earlier one revoked. The database's clock, not the caller's, so the
 * cut-off does not depend on which host ran the command.
 */
export async function advanceRevocationEpoch(db: Db): Promise<Date> {
  const row = await db
    .insertInto('revocation_epoch')
    .values({ revoked_before: sql<Date>`now()` })
    .onConflict((conflict) =>
      conflict.column('singleton').doUpdateSet({ revoked_before: sql<Date>`greatest(revocation_epoch.revoked_before, excluded.revoked_before)` }),
    )
    .returning('revoked_before')
    .executeTakeFirstOrThrow();
  return new Date(row.revoked_before);
}
