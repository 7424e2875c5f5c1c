import type { Db } from './db.ts';
import type { RoleRow } from './database.ts';

export interface NewRole {
  name: string;
  description: string;
  clientId: string | null;
  permissions: readonly string[];
}

/** A role with its permissions, sorted by name. */
export interface RoleWithPermissions extends RoleRow {
  permissions: string[];
}

/** The global role (clientId null) or the client's own role with this name. */
export function findRole(db: Db, name: string, clientId: string | null): Promise<RoleRow | undefined> {
  let query = db.selectFrom('roles').selectAll().where('name', '=', name);
  query = clientId === null ? query.where('client_id', 'is', null) : query.where('client_id', '=', clientId);
  return query.executeTakeFirst();
}

export async function insertRole(db: Db, role: NewRole): Promise<RoleRow> {
  const row = await db
    .insertInto('roles')
    .values({ name: role.name, description: role.description, client_id: role.clientId })
    .returningAll()
    .executeTakeFirstOrThrow();
  if (role.permissions.length > 0) {
    await db.insertInto('role_permissions').values(role.permissions.map((permission) => ({ role_id: row.id, permission }))).execute();
  }
  return row;
}

async function withPermissions(db: Db, roles: RoleRow[]): Promise<RoleWithPermissions[]> {
  if (roles.length === 0) return [];
  const rows = await db
    .selectFrom('role_permissions')
    .select(['role_id', 'permission'])
    .where('role_id', 'in', roles.map((role) => role.id))
    .orderBy('permission')
    .execute();
  return roles.map((role) => ({ ...role, permissions: rows.filter((row) => row.role_id === role.id).map((row) => row.permission) }));
}

/** Every role (clientId undefined), or the global roles and the client's own. Global ones first, then by name. */
export async function listRoles(db: Db, clientId?: string): Promise<RoleWithPermissions[]> {
  let query = db.selectFrom('roles').selectAll();
  if (clientId !== undefined) query = query.where((eb) => eb.or([eb('client_id', 'is', null), eb('client_id', '=', clientId)]));
  const roles = await query.orderBy('client_id', (ob) => ob.asc().nullsFirst()).orderBy('name').execute();
  return withPermissions(db, roles);
}

export async function roleWithPermissions(db: Db, role: RoleRow): Promise<RoleWithPermissions> {
  return (await withPermissions(db, [role]))[0]!;
}

/** Deletes the role; its permissions and every account's hold on it go with it (foreign-key cascade). */
export async function deleteRole(db: Db, id: string): Promise<void> {
  await db.deleteFrom('roles').where('id', '=', id).execute();
}

/** The ids of the accounts holding the role (for the audit trail of its removal). */
export async function accountsWithRole(db: Db, roleId: string): Promise<string[]> {
  const rows = await db.selectFrom('account_roles').select('account_id').where('role_id', '=', roleId).orderBy('account_id').execute();
  return rows.map((row) => row.account_id);
}

/** Gives the account the role; false when it already had it (RETURNING, since the embedded driver reports no row counts). */
export async function insertAccountRole(db: Db, accountId: string, roleId: string): Promise<boolean> {
  const rows = await db
    .insertInto('account_roles')
    .values({ account_id: accountId, role_id: roleId })
    .onConflict((oc) => oc.columns(['account_id', 'role_id']).doNothing())
    .returning('role_id')
    .execute();
  return rows.length > 0;
}

/** Takes the role from the account; false when it did not have it. */
export async function deleteAccountRole(db: Db, accountId: string, roleId: string): Promise<boolean> {
  const rows = await db.deleteFrom('account_roles').where('account_id', '=', accountId).where('role_id', '=', roleId).returning('role_id').execute();
  return rows.length > 0;
}

/** Every role the account holds, global and per client. */
export async function rolesOfAccount(db: Db, accountId: string): Promise<RoleWithPermissions[]> {
  const roles = await db
    .selectFrom('roles')
    .innerJoin('account_roles', 'account_roles.role_id', 'roles.id')
    .selectAll('roles')
    .where('account_roles.account_id', '=', accountId)
    .orderBy('roles.client_id', (ob) => ob.asc().nullsFirst())
    .orderBy('roles.name')
    .execute();
  return withPermissions(db, roles);
}

/**
 * The roles and permissions the account holds as far as this client may know: its global roles and the
 * client's own, never another client's. One query, read at every token and userinfo request.
 */
export async function accessForClient(db: Db, accountId: string, clientId: string): Promise<{ roles: string[]; permissions: string[] }> {
  const rows = await db
    .selectFrom('account_roles')
    .innerJoin('roles', 'roles.id', 'account_roles.role_id')
    .leftJoin('role_permissions', 'role_permissions.role_id', 'roles.id')
    .select(['roles.name', 'role_permissions.permission'])
    .where('account_roles.account_id', '=', accountId)
    .where((eb) => eb.or([eb('roles.client_id', 'is', null), eb('roles.client_id', '=', clientId)]))
    .execute();
  const roles = [...new Set(rows.map((row) => row.name))].sort();
  const permissions = [...new Set(rows.flatMap((row) => (row.permission === null ? [] : [row.permission])))].sort();
  return { roles, permissions };
}
