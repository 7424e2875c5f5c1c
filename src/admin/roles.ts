import { AppError, NotFoundError } from '../errors.ts';
import type { Db } from '../storage/postgres/db.ts';
import { findAccountByEmail, isUniqueViolation } from '../storage/postgres/accounts.queries.ts';
import { findClientById } from '../storage/postgres/clients.queries.ts';
import {
  accountsWithRole,
  deleteAccountRole,
  deleteRole,
  findRole,
  insertAccountRole,
  insertRole,
  listRoles as listRoleRows,
  roleWithPermissions,
  rolesOfAccount,
  type RoleWithPermissions,
} from '../storage/postgres/roles.queries.ts';

/**
 * Gatehouse's own administrators hold this global role (created by migration 20261129120000); later
 * admin pages and APIs check it. It cannot be removed, only granted and revoked.
 */
export const ADMIN_ROLE = 'gatehouse:admin';
/**
 * Role and permission names: RFC 6749 §3.3 scope-token characters. A permission is matched against an
 * API's scopes (role-based access in access tokens), so it must be able to be one; role names share
 * the rule so they travel in the `roles` claim and on command lines without quoting surprises.
 */
const NAME = /^[\x21\x23-\x5B\x5D-\x7E]{1,128}$/;

export interface RoleInput {
  name: string;
  permissions: readonly string[];
  /** A client's own role; absent for a global role. */
  clientId?: string | undefined;
  description?: string | undefined;
}

/** A role as operators see it. */
export interface RoleView {
  name: string;
  client_id: string | null;
  description: string;
  permissions: string[];
  created_at: string;
}

/** The input cannot make a valid role; `problems` lists every reason at once. */
export class InvalidRoleError extends AppError {
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(400, 'invalid_role', `invalid role:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
    this.problems = problems;
  }
}

export class RoleExistsError extends AppError {
  constructor(name: string, clientId: string | null) {
    super(409, 'role_exists', `a ${clientId === null ? 'global role' : `role of client "${clientId}"`} named "${name}" already exists`);
  }
}

/** The built-in admin role is part of Gatehouse itself. */
export class ProtectedRoleError extends AppError {
  constructor(name: string) {
    super(400, 'protected_role', `"${name}" is Gatehouse's built-in administrator role and cannot be removed (revoke it from users instead)`);
  }
}

function roleLabel(name: string, clientId: string | null): string {
  return clientId === null ? `global role "${name}"` : `role "${name}" of client "${clientId}"`;
}

export function toRoleView(role: RoleWithPermissions): RoleView {
  return {
    name: role.name,
    client_id: role.client_id,
    description: role.description,
    permissions: [...role.permissions],
    created_at: new Date(role.created_at).toISOString(),
  };
}

/**
 * Validates an operator's input.
 * @throws InvalidRoleError listing every problem.
 */
export function buildRole(input: RoleInput) {
  const problems: string[] = [];
  if (!NAME.test(input.name)) problems.push(`name "${input.name}": must be 1-128 characters a scope can have (no spaces, quotes or backslashes)`);
  const permissions: string[] = [];
  for (const permission of input.permissions) {
    if (!NAME.test(permission)) problems.push(`permission "${permission}": must be 1-128 characters a scope can have (no spaces, quotes or backslashes)`);
    else if (permissions.includes(permission)) problems.push(`permission "${permission}": listed twice`);
    else permissions.push(permission);
  }
  const description = (input.description ?? '').trim();
  if (description.length > 200) problems.push('description must be at most 200 characters');
  if (input.clientId !== undefined && input.clientId.trim() === '') problems.push('--client must name a client');
  if (problems.length > 0) throw new InvalidRoleError(problems);
  return { name: input.name, description, clientId: input.clientId ?? null, permissions: permissions.sort() };
}

async function requireClient(db: Db, clientId: string | null): Promise<void> {
  if (clientId !== null && !(await findClientById(db, clientId))) throw new NotFoundError(`no client with id "${clientId}"`);
}

async function requireRole(db: Db, name: string, clientId: string | null) {
  await requireClient(db, clientId);
  const role = await findRole(db, name, clientId);
  if (!role) throw new NotFoundError(`no ${roleLabel(name, clientId)}`);
  return role;
}

async function requireAccount(db: Db, email: string) {
  const account = await findAccountByEmail(db, email.trim());
  if (!account) throw new NotFoundError(`no account with email "${email.trim()}"`);
  return account;
}

/** @throws InvalidRoleError for bad input; NotFoundError for an unknown client; RoleExistsError when the name is taken. */
export async function addRole(db: Db, input: RoleInput): Promise<RoleView> {
  const role = buildRole(input);
  await requireClient(db, role.clientId);
  if (await findRole(db, role.name, role.clientId)) throw new RoleExistsError(role.name, role.clientId);
  try {
    const row = await insertRole(db, role);
    return toRoleView({ ...row, permissions: role.permissions });
  } catch (error) {
    // Another process added the same name between the check and the insert.
    if (isUniqueViolation(error)) throw new RoleExistsError(role.name, role.clientId);
    throw error;
  }
}

/** Every role, or (with a client) the global roles and the client's own: what that client can see. */
export async function listRoles(db: Db, clientId?: string): Promise<RoleView[]> {
  if (clientId !== undefined) await requireClient(db, clientId);
  return (await listRoleRows(db, clientId)).map(toRoleView);
}

/** @throws NotFoundError when there is no such role (or client). */
export async function showRole(db: Db, name: string, clientId: string | null): Promise<RoleView> {
  return toRoleView(await roleWithPermissions(db, await requireRole(db, name, clientId)));
}

/**
 * Deletes the role and takes it from every account holding it (returned, for the audit trail). Tokens
 * issued from then on no longer carry it: claims and API scopes are read at every token and userinfo request.
 * @throws ProtectedRoleError for gatehouse:admin; NotFoundError when there is no such role.
 */
export async function removeRole(db: Db, name: string, clientId: string | null): Promise<{ accounts: string[] }> {
  if (name === ADMIN_ROLE && clientId === null) throw new ProtectedRoleError(name);
  const role = await requireRole(db, name, clientId);
  const accounts = await accountsWithRole(db, role.id);
  await deleteRole(db, role.id);
  return { accounts };
}

/** What a grant or revoke did, for the CLI's message and the audit event. */
export interface RoleChange {
  accountId: string;
  email: string;
  role: string;
  clientId: string | null;
  /** False when the account already had (grant) or did not have (revoke) the role. */
  changed: boolean;
}

/** @throws NotFoundError for an unknown account, client or role. */
export async function grantRole(db: Db, email: string, name: string, clientId: string | null): Promise<RoleChange> {
  const account = await requireAccount(db, email);
  const role = await requireRole(db, name, clientId);
  const changed = await insertAccountRole(db, account.id, role.id);
  return { accountId: account.id, email: account.email, role: name, clientId, changed };
}

/** Takes effect at the account's next token refresh or userinfo call. @throws NotFoundError for an unknown account, client or role. */
export async function revokeRole(db: Db, email: string, name: string, clientId: string | null): Promise<RoleChange> {
  const account = await requireAccount(db, email);
  const role = await requireRole(db, name, clientId);
  const changed = await deleteAccountRole(db, account.id, role.id);
  return { accountId: account.id, email: account.email, role: name, clientId, changed };
}

/** The account and every role it holds. @throws NotFoundError for an unknown account. */
export async function accountRoles(db: Db, email: string) {
  const account = await requireAccount(db, email);
  return { account, roles: (await rolesOfAccount(db, account.id)).map(toRoleView) };
}
