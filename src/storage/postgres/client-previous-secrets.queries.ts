import type { Db } from './db.ts';
import type { ClientRow } from './database.ts';

export interface PreviousClientSecretRow {
  secret_sha256: string;
  expires_at: Date;
}

/** The client's previous secret, expired or not (the caller compares expires_at with its clock). */
export function findPreviousClientSecret(db: Db, clientId: string): Promise<PreviousClientSecretRow | undefined> {
  return db
    .selectFrom('client_previous_secrets')
    .select(['secret_sha256', 'expires_at'])
    .where('client_id', '=', clientId)
    .executeTakeFirst();
}

/** The client's row, locked until the transaction ends, so two rotations at once cannot lose a secret. */
export function lockClientById(trx: Db, id: string): Promise<ClientRow | undefined> {
  return trx.selectFrom('clients').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
}

/** Replaces the client's metadata (with its new secret). */
export async function updateClientMetadata(trx: Db, id: string, metadata: Record<string, unknown>): Promise<void> {
  await trx.updateTable('clients').set({ metadata: JSON.stringify(metadata), updated_at: new Date() }).where('id', '=', id).execute();
}

/** Keeps one previous secret per client: a new rotation replaces the one before (which stops at once). */
export async function savePreviousClientSecret(trx: Db, clientId: string, secretSha256: string, expiresAt: Date): Promise<void> {
  await trx
    .insertInto('client_previous_secrets')
    .values({ client_id: clientId, secret_sha256: secretSha256, expires_at: expiresAt })
    .onConflict((oc) => oc.column('client_id').doUpdateSet({ secret_sha256: secretSha256, expires_at: expiresAt, created_at: new Date() }))
    .execute();
}

export async function deletePreviousClientSecret(trx: Db, clientId: string): Promise<void> {
  await trx.deleteFrom('client_previous_secrets').where('client_id', '=', clientId).execute();
}
