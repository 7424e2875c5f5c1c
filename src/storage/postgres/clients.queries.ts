import { noteChanged } from './change-feed.ts';
import type { Db } from './db.ts';
import type { ClientRow } from './database.ts';

/** Notified by the clients table's trigger at every committed change (migration 20261129140000). */
export const CLIENTS_CHANGED = 'gatehouse_clients_changed';

export function findClientById(db: Db, id: string): Promise<ClientRow | undefined> {
  return db.selectFrom('clients').selectAll().where('id', '=', id).executeTakeFirst();
}

export function listClients(db: Db): Promise<ClientRow[]> {
  return db.selectFrom('clients').selectAll().orderBy('id').execute();
}

/** Inserts or replaces a client's metadata (used by the CLI and the dev seed). */
export async function upsertClient(db: Db, id: string, metadata: Record<string, unknown>): Promise<ClientRow> {
  const json = JSON.stringify(metadata);
  const row = await db
    .insertInto('clients')
    .values({ id, metadata: json })
    .onConflict((oc) => oc.column('id').doUpdateSet({ metadata: json, updated_at: new Date() }))
    .returningAll()
    .executeTakeFirstOrThrow();
  noteChanged(db, CLIENTS_CHANGED); // this process's own cache, before the notification comes back
  return row;
}

export async function insertClient(db: Db, id: string, metadata: Record<string, unknown>): Promise<ClientRow> {
  const row = await db.insertInto('clients').values({ id, metadata: JSON.stringify(metadata) }).returningAll().executeTakeFirstOrThrow();
  noteChanged(db, CLIENTS_CHANGED);
  return row;
}

/** Returns whether a client was removed. */
export async function deleteClient(db: Db, id: string): Promise<boolean> {
  // RETURNING rather than numDeletedRows: kysely-pglite does not report affected rows.
  const removed = await db.deleteFrom('clients').where('id', '=', id).returning('id').execute();
  noteChanged(db, CLIENTS_CHANGED);
  return removed.length > 0;
}
