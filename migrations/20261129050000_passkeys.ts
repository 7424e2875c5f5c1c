import { sql, type Kysely } from 'kysely';

/**
 * Passkeys (WebAuthn credentials) and the single-use challenges their ceremonies sign.
 *
 * passkeys: one row per credential. credential_id (base64url, as the browser reports it) is unique across
 * all accounts, so an assertion names exactly one account. counter is the authenticator's signature
 * counter, only ever raised (a lower or equal value means a cloned authenticator or a replay).
 *
 * webauthn_challenges: at most one open challenge per (purpose, binding) — a new ceremony replaces the
 * previous one — so the table cannot grow with repeated requests. A challenge is consumed by deleting its
 * row (one statement: of two concurrent uses exactly one gets it) and never outlives expires_at.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('passkeys')
    .addColumn('id', 'uuid', (col) => col.primaryKey().defaultTo(db.fn('gen_random_uuid')))
    .addColumn('account_id', 'uuid', (col) => col.notNull().references('accounts.id').onDelete('cascade'))
    .addColumn('credential_id', 'text', (col) => col.notNull().unique())
    .addColumn('public_key', 'bytea', (col) => col.notNull())
    .addColumn('counter', 'bigint', (col) => col.notNull().defaultTo(0))
    .addColumn('transports', 'text', (col) => col.notNull().defaultTo(''))
    .addColumn('device_type', 'text', (col) => col.notNull().check(sql`device_type in ('singleDevice', 'multiDevice')`))
    .addColumn('backed_up', 'boolean', (col) => col.notNull().defaultTo(false))
    .addColumn('name', 'text', (col) => col.notNull().defaultTo('Passkey'))
    .addColumn('created_at', 'timestamptz', (col) => col.notNull())
    .addColumn('last_used_at', 'timestamptz')
    .execute();
  await db.schema.createIndex('passkeys_account_idx').on('passkeys').column('account_id').execute();

  await db.schema
    .createTable('webauthn_challenges')
    .addColumn('purpose', 'text', (col) => col.notNull().check(sql`purpose in ('register', 'authenticate')`))
    .addColumn('binding', 'text', (col) => col.notNull())
    .addColumn('challenge', 'text', (col) => col.notNull())
    .addColumn('expires_at', 'timestamptz', (col) => col.notNull())
    .addPrimaryKeyConstraint('webauthn_challenges_pk', ['purpose', 'binding'])
    .execute();
  await db.schema.createIndex('webauthn_challenges_expiry_idx').on('webauthn_challenges').column('expires_at').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('webauthn_challenges').execute();
  await db.schema.dropTable('passkeys').execute();
}
