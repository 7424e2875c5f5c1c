import type { Db } from './db.ts';
import type { ClientRow } from './database.ts';

export function findClientById(db: Db, id: string): Promise<ClientRow | undefined> {
  return db.selectFrom('clients').selectAll().where('id', '=', id).executeTakeFirst();
}

export function listClients(db: Db): Promise<ClientRow[]> {
  return db.selectFrom('clients').selectAll().orderBy('id').execute();
}

/** Inserts or replaces a client's metadata (used by the CLI and the dev seed). */
export function upsertClient(db: Db, id: string, metadata: Record<string, unknown>): Promise<ClientRow> {
  const json = JSON.stringify(metadata);
  return db
    .insertInto('clients')
    .values({ id, metadata: json })
    .onConflict((oc) => oc.column('id').doUpdateSet({ metadata: json, updated_at: new Date() }))
    .returningAll()
    .executeTakeFirstOrThrow();
}

export function insertClient(db: Db, id: string, metadata: Record<string, unknown>): Promise<ClientRow> {
  return db.insertInto('clients').values({ id, metadata: JSON.stringify(metadata) }).returningAll().executeTakeFirstOrThrow();
}

/** Returns whether a client was removed. */
export async function deleteClient(db: Db, id: string): Promise<boolean> {
  // RETURNING rather than numDeletedRows: kysely-pglite does not report affected rows.
  const removed = await db.deleteFrom('clients').where('id', '=', id).returning('id').execute();
  return removed.length > 0;
}
