import { sql, type Kysely } from 'kysely';

/**
 * apis: the resource servers clients ask for with the `resource` parameter (issue 11, RFC 8707). The
 * identifier is the URI a client sends and the `aud` of every access token for the API; scopes are the
 * API's own ([{ name, description }], the description shown on the consent page). Which clients may ask
 * for an API is kept in the client's metadata (`allowed_apis`, see src/admin/clients.ts).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('apis')
    .addColumn('identifier', 'text', (col) => col.primaryKey().check(sql`char_length(identifier) <= 512`))
    .addColumn('name', 'text', (col) => col.notNull().check(sql`char_length(name) between 1 and 200`))
    .addColumn('scopes', 'jsonb', (col) => col.notNull().defaultTo(sql`'[]'::jsonb`))
    .addColumn('token_format', 'text', (col) => col.notNull().defaultTo('jwt').check(sql`token_format in ('jwt', 'opaque')`))
    .addColumn('token_ttl_seconds', 'integer', (col) => col.notNull().check(sql`token_ttl_seconds > 0`))
    // Whether the user's permissions limit the API's scopes in their tokens (the next slice of issue 11).
    .addColumn('rbac', 'boolean', (col) => col.notNull().defaultTo(true))
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('apis').execute();
}
