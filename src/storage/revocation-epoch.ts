import type { Logger } from 'pino';
import type { AdapterFactory, AdapterPayload, OidcAdapter } from './oidc-adapter.ts';
import type { Db } from './postgres/db.ts';
import { findRevocationEpoch } from './postgres/revocation-epoch.queries.ts';

/*
 * REL-F13: a Redis restored from an older snapshot brings back codes and refresh tokens that were already
 * used, grants that were revoked and sessions that were ended. Everything in such a snapshot was issued
 * before the restore, so one instant kept in Postgres (the revocation epoch, moved to now by
 * `gatehouse sessions revoke-all`) voids all of it: the adapter answers "not found" for any record whose
 * `iat` is before the epoch, and oidc-provider refuses it as it refuses an unknown one (invalid_grant at
 * /token, a new sign-in at /auth). oidc-provider stamps `iat` when a record is first saved and keeps it
 * on every later save, so a session or grant touched after the epoch is still recognised as older.
 */

/** The epoch as the adapter sees it. */
export interface RevocationEpoch {
  /** Unix seconds: a record whose `iat` is below this was issued before the epoch. 0: nothing is revoked. */
  cutoff(): number;
}

/** The epoch read once at start-up and again every `refreshSeconds`, so no adapter call reads Postgres. */
export interface CachedRevocationEpoch extends RevocationEpoch {
  /** Re-reads the epoch now; true when it moved. @throws the database's error (the cached value stays). */
  refresh(): Promise<boolean>;
  /** Starts re-reading every `refreshSeconds` (once the app is built, so a failed start leaves no timer). */
  start(): void;
  stop(): void;
}

/**
 * `iat` is whole seconds rounded down, so a record issued earlier within the epoch's own second has an
 * `iat` equal to that second: the cut-off is the first whole second not before the epoch. A record issued
 * later in that same second is refused too, which errs on the safe side (one more sign-in).
 */
export function cutoffOf(epoch: Date): number {
  return Math.ceil(epoch.getTime() / 1000);
}

/**
 * True when the record was issued before the epoch. A record without a numeric `iat` (oidc-provider always
 * writes one) counts as before it once an epoch is set: unknown age is not proof of being new.
 */
export function issuedBeforeEpoch(payload: AdapterPayload, cutoff: number): boolean {
  if (cutoff <= 0) return false;
  return !(typeof payload.iat === 'number' && payload.iat >= cutoff);
}

/**
 * Reads the epoch (one query); once started, re-reads it every `refreshSeconds`. A server therefore starts
 * refusing what the epoch revokes at most `refreshSeconds` after `gatehouse sessions revoke-all` (plus one
 * query); a server started after the command refuses it from its first request. A failed re-read keeps the
 * last value and is logged; the next tick tries again.
 */
export async function loadRevocationEpoch(db: Db, refreshSeconds: number, logger: Logger): Promise<CachedRevocationEpoch> {
  let cutoff = cutoffOf(await findRevocationEpoch(db));
  const refresh = async (): Promise<boolean> => {
    const epoch = await findRevocationEpoch(db);
    const next = cutoffOf(epoch);
    if (next === cutoff) return false;
    cutoff = next;
    logger.info({ revokedBefore: epoch.toISOString() }, 'revocation epoch moved: sessions, grants, codes and tokens issued before it are refused');
    return true;
  };
  let timer: NodeJS.Timeout | undefined;
  return {
    cutoff: () => cutoff,
    refresh,
    start() {
      timer ??= setInterval(() => {
        refresh().catch((error: unknown) => logger.error({ err: error }, 'revocation epoch refresh failed; keeping the last one read'));
      }, refreshSeconds * 1000);
      timer.unref();
    },
    stop: () => clearInterval(timer),
  };
}

/**
 * ReplayDetection records a client assertion's or DPoP proof's `jti` so that a second use is refused:
 * there, being found is the refusal, and hiding an old record would let the proof be replayed.
 */
const NOT_REVOCABLE: ReadonlySet<string> = new Set(['ReplayDetection']);

/**
 * The adapters, with every record issued before the epoch read as absent (find, findByUid,
 * findByUserCode). Writes, consume, destroy and revokeByGrantId pass through unchanged: oidc-provider
 * only consumes or destroys what it found first, and the hidden records expire on their own TTL.
 */
export function withRevocationEpoch(models: AdapterFactory, epoch: RevocationEpoch): AdapterFactory {
  const adapters = new Map<string, OidcAdapter>();
  const visible = (payload: AdapterPayload | undefined) => (payload && !issuedBeforeEpoch(payload, epoch.cutoff()) ? payload : undefined);
  return (model) => {
    const inner = models(model);
    if (NOT_REVOCABLE.has(model)) return inner;
    let adapter = adapters.get(model);
    if (!adapter) {
      adapter = {
        upsert: (id, payload, expiresIn) => inner.upsert(id, payload, expiresIn),
        find: async (id) => visible(await inner.find(id)),
        findByUid: async (uid) => visible(await inner.findByUid(uid)),
        findByUserCode: async (userCode) => visible(await inner.findByUserCode(userCode)),
        consume: (id) => inner.consume(id),
        destroy: (id) => inner.destroy(id),
        revokeByGrantId: (grantId) => inner.revokeByGrantId(grantId),
      };
      adapters.set(model, adapter);
    }
    return adapter;
  };
}
