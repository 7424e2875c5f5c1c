import type { Config } from '../config/load.ts';
import { reconcileSigningKeys, rotateSigningKeys } from '../oidc/keys.ts';
import type { Db } from '../storage/postgres/db.ts';
import type { SigningKeyRow, SigningKeyStatus } from '../storage/postgres/database.ts';
import { listAllSigningKeys } from '../storage/postgres/signing-keys.queries.ts';

/** A signing key as shown to operators: public facts only, never the (encrypted) private JWK. */
export interface KeyView {
  kid: string;
  alg: string;
  status: SigningKeyStatus;
  activates_at: string;
  /** When a retired key leaves JWKS; null while it is next or current. */
  remove_after: string | null;
}

function toKeyView(row: SigningKeyRow): KeyView {
  return {
    kid: row.kid,
    alg: row.alg,
    status: row.status,
    activates_at: new Date(row.activates_at).toISOString(),
    remove_after: row.remove_after ? new Date(row.remove_after).toISOString() : null,
  };
}

/**
 * Every key in the table, after the same reconcile the server runs (so a `next` key whose time has come
 * is listed as current, and a fresh database gets its first RS256 and ES256 keys).
 */
export async function listKeys(db: Db, config: Config, now: Date = new Date()): Promise<KeyView[]> {
  await reconcileSigningKeys(db, config, now);
  return (await listAllSigningKeys(db)).map(toKeyView);
}

/**
 * Publishes one new `next` key per algorithm; running servers pick them up on their next key refresh
 * and start signing with them at `activates_at` (now + KEY_ACTIVATION_DELAY_SECONDS).
 * @returns the new keys.
 */
export async function rotateKeys(db: Db, config: Config, now: Date = new Date()): Promise<KeyView[]> {
  // A first reconcile gives a fresh database its current keys, so the new ones really are `next`.
  await reconcileSigningKeys(db, config, now);
  const kids = new Set(await rotateSigningKeys(db, config, now));
  return (await listAllSigningKeys(db)).filter((row) => kids.has(row.kid)).map(toKeyView);
}
