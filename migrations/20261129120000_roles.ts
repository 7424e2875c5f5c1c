import { sql, type Kysely } from 'kysely';

/**
 * Roles and permissions (issue 11). A role is global (client_id null) or one client's own; a client only
 * ever sees global roles and its own. Names are unique per client and among global roles: a plain unique
 * constraint would let many global roles share a name (NULLs are distinct), hence the index on
 * coalesce(client_id, ''), which no client id can equal (ids are non-empty). Permissions are names
 * like `posts:delete`, matched against API scopes for role-based access in access tokens.
 * The built-in `gatehouse:admin` role is created here; the CLI refuses to remove it.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('roles')
    .addColumn('id', 'uuid', (col) => col.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('name', 'text', (col) => col.notNull().check(sql`char_length(name) between 1 and 128`))
    .addColumn('description', 'text', (col) => col.notNull().defaultTo('').check(sql`char_length(description) <= 200`))
    // A client's removal takes its own roles (and their grants) with it.
    .addColumn('client_id', 'text', (col) => col.references('clients.id').onDelete('cascade'))
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .execute();
  await sql`create unique index roles_name_client_key on roles (name, coalesce(client_id, ''))`.execute(db);

  await db.schema
    .createTable('role_permissions')
    .addColumn('role_id', 'uuid', (col) => col.notNull().references('roles.id').onDelete('cascade'))
    .addColumn('permission', 'text', (col) => col.notNull().check(sql`char_length(permission) between 1 and 128`))
    .addPrimaryKeyConstraint('role_permissions_pkey', ['role_id', 'permission'])
    .execute();

  await db.schema
    .createTable('account_roles')
    .addColumn('account_id', 'uuid', (col) => col.notNull().references('accounts.id').onDelete('cascade'))
    .addColumn('role_id', 'uuid', (col) => col.notNull().references('roles.id').onDelete('cascade'))
    .addColumn('granted_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('account_roles_pkey', ['account_id', 'role_id'])
    .execute();
  // Token issuance reads an account's roles; removing a role deletes by role.
  await db.schema.createIndex('account_roles_role_idx').on('account_roles').column('role_id').execute();

  await sql`insert into roles (name, description) values ('gatehouse:admin', 'Administers Gatehouse itself')`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('account_roles').execute();
  await db.schema.dropTable('role_permissions').execute();
  await db.schema.dropTable('roles').execute();
}
