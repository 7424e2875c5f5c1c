import { sql } from 'kysely';
import type { Db } from './db.ts';
import type { PasskeyDeviceType, PasskeyRow, WebauthnChallengePurpose } from './database.ts';

export interface NewPasskey {
  accountId: string;
  credentialId: string;
  publicKey: Uint8Array;
  counter: number;
  transports: readonly string[];
  deviceType: PasskeyDeviceType;
  backedUp: boolean;
  name: string;
  createdAt: Date;
}

export function listPasskeys(db: Db, accountId: string): Promise<PasskeyRow[]> {
  return db.selectFrom('passkeys').selectAll().where('account_id', '=', accountId).orderBy('created_at').orderBy('id').execute();
}

export function findPasskeyByCredentialId(db: Db, credentialId: string): Promise<PasskeyRow | undefined> {
  return db.selectFrom('passkeys').selectAll().where('credential_id', '=', credentialId).executeTakeFirst();
}

/** Saves a new credential; its id, or undefined when that credential id is already registered (to any account). */
export async function insertPasskey(db: Db, passkey: NewPasskey): Promise<string | undefined> {
  const row = await db
    .insertInto('passkeys')
    .values({
      account_id: passkey.accountId,
      credential_id: passkey.credentialId,
      public_key: passkey.publicKey,
      counter: passkey.counter,
      transports: passkey.transports.join(','),
      device_type: passkey.deviceType,
      backed_up: passkey.backedUp,
      name: passkey.name,
      created_at: passkey.createdAt,
    })
    .onConflict((oc) => oc.column('credential_id').doNothing())
    .returning('id')
    .executeTakeFirst();
  return row?.id;
}

/**
 * Records a verified assertion: the new signature counter is stored only if it is higher than the stored
 * one (or both are 0: authenticators that do not count, as synced passkeys do), in one statement, so two
 * concurrent assertions with the same counter cannot both pass. False means the counter did not rise:
 * a cloned authenticator or a replayed assertion.
 */
export async function recordPasskeyUse(db: Db, id: string, counter: number, backedUp: boolean, now: Date): Promise<boolean> {
  const rows = await db
    .updateTable('passkeys')
    .set({ counter, backed_up: backedUp, last_used_at: now })
    .where('id', '=', id)
    .where(sql<boolean>`counter < ${counter}::bigint or (counter = 0 and ${counter}::bigint = 0)`)
    .returning('id')
    .execute();
  return rows.length > 0;
}

export async function renamePasskey(db: Db, accountId: string, id: string, name: string): Promise<boolean> {
  const rows = await db.updateTable('passkeys').set({ name }).where('id', '=', id).where('account_id', '=', accountId).returning('id').execute();
  return rows.length > 0;
}

/** Deletes one of the account's passkeys; returns its name, or undefined when it was not the account's. */
export async function deletePasskey(db: Db, accountId: string, id: string): Promise<string | undefined> {
  const row = await db.deleteFrom('passkeys').where('id', '=', id).where('account_id', '=', accountId).returning('name').executeTakeFirst();
  return row?.name;
}

export interface ChallengeKey {
  purpose: WebauthnChallengePurpose;
  /** What the challenge is for, e.g. `account:<id>` or `mfa:<interaction uid>:<account id>`. */
  binding: string;
}

/**
 * Opens a challenge for `key`, replacing any open one (one ceremony at a time per binding), and clears
 * expired challenges of every binding on the way, so the table holds only live ceremonies.
 */
export async function saveWebauthnChallenge(db: Db, key: ChallengeKey, challenge: string, expiresAt: Date, now: Date): Promise<void> {
  await db.deleteFrom('webauthn_challenges').where('expires_at', '<=', now).execute();
  await db
    .insertInto('webauthn_challenges')
    .values({ purpose: key.purpose, binding: key.binding, challenge, expires_at: expiresAt })
    .onConflict((oc) => oc.columns(['purpose', 'binding']).doUpdateSet({ challenge, expires_at: expiresAt }))
    .execute();
}

/**
 * Uses up the open challenge of `key` if it is `challenge` and has not expired: one DELETE, so of two
 * concurrent uses exactly one gets true, and no challenge is ever accepted twice.
 */
export async function consumeWebauthnChallenge(db: Db, key: ChallengeKey, challenge: string, now: Date): Promise<boolean> {
  const rows = await db
    .deleteFrom('webauthn_challenges')
    .where('purpose', '=', key.purpose)
    .where('binding', '=', key.binding)
    .where('challenge', '=', challenge)
    .where('expires_at', '>', now)
    .returning('challenge')
    .execute();
  return rows.length > 0;
}
