import { addRole, listRoles, removeRole, showRole, type RoleView } from '../admin/roles.ts';
import { UsageError } from '../errors.ts';
import { noPositionals, onePositional, parseOptions, print, printJson, printListing, withAuditedAction, withDatabase, type CliIo } from './context.ts';

export function describeRole(role: RoleView): string {
  return [
    `name: ${role.name}`,
    `client: ${role.client_id ?? '(global)'}`,
    `description: ${role.description}`,
    `created_at: ${role.created_at}`,
    'permissions:',
    ...role.permissions.map((permission) => `  ${permission}`),
  ].join('\n');
}

/** --client ID, or null for a global role. */
export function clientOption(value: string | undefined): string | null {
  if (value === undefined) return null;
  if (value.trim() === '') throw new UsageError('--client must name a client');
  return value;
}

async function add(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseOptions(args, {
    permission: { type: 'string', multiple: true },
    client: { type: 'string' },
    description: { type: 'string' },
    json: { type: 'boolean' },
  });
  const name = onePositional(positionals, 'role name');
  const input = { name, permissions: values.permission ?? [], clientId: clientOption(values.client) ?? undefined, description: values.description };
  const role = await withAuditedAction(
    io,
    ({ db }) => addRole(db, input),
    (added) => ({ type: 'admin_role_added', clientId: added.client_id, details: { role: added.name, permissions: added.permissions } }),
  );
  if (values.json) printJson(io, role);
  else print(io, `added ${role.client_id === null ? 'global ' : ''}role ${role.name}\n${describeRole(role)}`);
  return 0;
}

async function list(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseOptions(args, { client: { type: 'string' }, json: { type: 'boolean' } });
  noPositionals(positionals);
  const client = clientOption(values.client) ?? undefined;
  const roles = await withDatabase(io, ({ db }) => listRoles(db, client));
  printListing(io, values.json, roles, {
    header: ['NAME', 'CLIENT', 'PERMISSIONS', 'DESCRIPTION'],
    row: (role) => [role.name, role.client_id ?? '(global)', role.permissions.join(' '), role.description],
  });
  return 0;
}

async function show(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseOptions(args, { client: { type: 'string' }, json: { type: 'boolean' } });
  const name = onePositional(positionals, 'role name');
  const role = await withDatabase(io, ({ db }) => showRole(db, name, clientOption(values.client)));
  if (values.json) printJson(io, role);
  else print(io, describeRole(role));
  return 0;
}

async function remove(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseOptions(args, { client: { type: 'string' } });
  const name = onePositional(positionals, 'role name');
  const clientId = clientOption(values.client);
  const { accounts } = await withAuditedAction(
    io,
    ({ db }) => removeRole(db, name, clientId),
    // The first ids only: an event's details are bounded (4 KiB), the count says how many lost it.
    (removed) => ({
      type: 'admin_role_removed',
      clientId,
      details: { role: name, account_count: removed.accounts.length, accounts: removed.accounts.slice(0, 50) },
    }),
  );
  print(io, `removed role ${name}${clientId === null ? '' : ` of client ${clientId}`}${accounts.length > 0 ? ` (taken from ${accounts.length} account${accounts.length === 1 ? '' : 's'})` : ''}`);
  return 0;
}

export const roleCommands: Record<string, (args: string[], io: CliIo) => Promise<number>> = { add, list, show, remove };
