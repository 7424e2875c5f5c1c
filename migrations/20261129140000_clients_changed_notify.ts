import { sql, type Kysely } from 'kysely';

/**
 * Running servers cache clients (src/storage/postgres/clients-adapter.ts) and must drop the cache the
 * moment a client changes anywhere (the CLI, another replica, a CLIENTS_FILE start): every change to the
 * clients table notifies the channel `gatehouse_clients_changed` when its transaction commits. One
 * notification per statement, with no payload: listeners drop their whole cache, which is small.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE FUNCTION gatehouse_notify_clients_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM pg_notify('gatehouse_clients_changed', '');
      RETURN NULL;
    END $$`.execute(db);
  await sql`
    CREATE TRIGGER clients_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON clients
    FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_notify_clients_changed()`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TRIGGER clients_changed ON clients`.execute(db);
  await sql`DROP FUNCTION gatehouse_notify_clients_changed()`.execute(db);
}
