import type { Db } from '../storage/postgres/db.ts';
import { advanceRevocationEpoch } from '../storage/postgres/revocation-epoch.queries.ts';

/**
 * Voids every session, grant, authorization code, access and refresh token issued until now, wherever
 * they are kept, by moving the revocation epoch to now (REL-F13: the step after restoring Redis from a
 * backup). Nothing is deleted: running servers read them as absent once they re-read the epoch
 * (REVOCATION_EPOCH_REFRESH_SECONDS), and servers started later at once. Everyone must sign in again.
 * @returns the new epoch (the database's clock).
 */
export function revokeAllSessions(db: Db): Promise<Date> {
  return advanceRevocationEpoch(db);
}
