import { sql, type Kysely } from 'kysely';

/**
 * audit_events: the security audit trail (issue 7, LOG-01). One row per event: sign-ins, MFA, account
 * changes, consent, admin actions. Rows are only ever inserted, and deleted by the retention job.
 *
 * account_id and client_id deliberately have no foreign keys. ON DELETE CASCADE would erase an account's
 * history exactly when an investigation may need it (a deleted account, a removed client); SET NULL
 * would keep the rows but lose whom they were about. A plain column keeps the id after its account or
 * client is gone, and lets an event name an id that never existed (a probe for a made-up client).
 *
 * Secrets never reach this table: src/audit/details.ts drops secret-looking details before the insert;
 * the checks below bound what an attacker-controlled header or a careless caller can make us store.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('audit_events')
    // bigint identity: insertion order, the cursor `gatehouse audit tail` follows.
    .addColumn('id', 'bigint', (col) => col.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('occurred_at', 'timestamptz', (col) => col.notNull())
    .addColumn('type', 'text', (col) => col.notNull().check(sql`type ~ '^[a-z][a-z0-9_]{0,63}$'`))
    .addColumn('outcome', 'text', (col) => col.notNull().check(sql`outcome in ('success', 'failure')`))
    .addColumn('account_id', 'uuid')
    .addColumn('client_id', 'text', (col) => col.check(sql`char_length(client_id) <= 128`))
    .addColumn('ip', 'text', (col) => col.check(sql`char_length(ip) <= 64`))
    .addColumn('user_agent', 'text', (col) => col.check(sql`char_length(user_agent) <= 256`))
    .addColumn('request_id', 'text', (col) => col.check(sql`char_length(request_id) <= 128`))
    .addColumn('details', 'jsonb', (col) => col.notNull().defaultTo(sql`'{}'::jsonb`).check(sql`octet_length(details::text) <= 4096`))
    .execute();
  await db.schema.createIndex('audit_events_occurred_at_idx').on('audit_events').column('occurred_at').execute();
  await db.schema.createIndex('audit_events_account_idx').on('audit_events').columns(['account_id', 'occurred_at']).execute();
  await db.schema.createIndex('audit_events_type_idx').on('audit_events').columns(['type', 'occurred_at']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('audit_events').execute();
}
