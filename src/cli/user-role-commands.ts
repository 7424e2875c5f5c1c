import { listUpstreamIdentities } from '../storage/postgres/upstream-identities.queries.ts';
import { accountRoles, grantRole, revokeRole, type RoleChange } from '../admin/roles.ts';
import { UsageError } from '../errors.ts';
import { formatTable, noPositionals, parseOptions, print, printJson, withAuditedAction, withDatabase, type CliIo } from './context.ts';
import { clientOption } from './role-commands.ts';

/** --email E --role NAME [--client ID] of `user grant` and `user revoke`. */
function roleChangeOptions(args: string[], command: string) {
  const { values, positionals } = parseOptions(args, { email: { type: 'string' }, role: { type: 'string' }, client: { type: 'string' } });
  noPositionals(positionals);
  if (values.email === undefined) throw new UsageError(`${command} needs --email`);
  if (values.role === undefined) throw new UsageError(`${command} needs --role`);
  return { email: values.email, role: values.role, clientId: clientOption(values.client) };
}

function roleLabel(change: RoleChange): string {
  return `${change.role}${change.clientId === null ? '' : ` (client ${change.clientId})`}`;
}

async function grant(args: string[], io: CliIo): Promise<number> {
  const { email, role, clientId } = roleChangeOptions(args, 'user grant');
  const change = await withAuditedAction(
    io,
    ({ db }) => grantRole(db, email, role, clientId),
    (done) => ({ type: 'admin_role_granted', accountId: done.accountId, clientId: done.clientId, details: { role: done.role, changed: done.changed } }),
  );
  print(io, change.changed ? `granted role ${roleLabel(change)} to ${change.email}` : `${change.email} already has role ${roleLabel(change)}`);
  return 0;
}

/** The user's next token refresh or userinfo call no longer carries the role: they are read at each. */
async function revoke(args: string[], io: CliIo): Promise<number> {
  const { email, role, clientId } = roleChangeOptions(args, 'user revoke');
  const change = await withAuditedAction(
    io,
    ({ db }) => revokeRole(db, email, role, clientId),
    (done) => ({ type: 'admin_role_revoked', accountId: done.accountId, clientId: done.clientId, details: { role: done.role, changed: done.changed } }),
  );
  print(io, change.changed ? `revoked role ${roleLabel(change)} from ${change.email}` : `${change.email} did not have role ${roleLabel(change)}`);
  return 0;
}

async function show(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseOptions(args, { email: { type: 'string' }, json: { type: 'boolean' } });
  noPositionals(positionals);
  const email = values.email;
  if (email === undefined) throw new UsageError('user show needs --email');
  const { account, roles, upstreams } = await withDatabase(io, async ({ db }) => {
    const found = await accountRoles(db, email);
    return { ...found, upstreams: await listUpstreamIdentities(db, found.account.id) };
  });
  // How the account can sign in besides passkeys: its password, and the upstream providers linked to it (issue 12).
  const linked = upstreams.map((identity) => ({ provider: identity.provider, email: identity.email, linkedAt: new Date(identity.created_at).toISOString() }));
  if (values.json) {
    printJson(io, { id: account.id, email: account.email, disabled: account.disabled_at !== null, password: account.password_hash !== null, upstreams: linked, roles });
    return 0;
  }
  const lines = [`email: ${account.email}`, `id: ${account.id}`, `status: ${account.disabled_at === null ? 'active' : 'disabled'}`];
  lines.push(`password: ${account.password_hash === null ? 'none' : 'set'}`);
  lines.push(`upstream: ${linked.length === 0 ? 'none' : linked.map((identity) => `${identity.provider}${identity.email ? ` (${identity.email})` : ''}`).join(', ')}`);
  if (roles.length === 0) lines.push('roles: none');
  else {
    const rows = roles.map((role) => [role.name, role.client_id ?? '(global)', role.permissions.join(' ')]);
    lines.push('roles:', formatTable([['NAME', 'CLIENT', 'PERMISSIONS'], ...rows]).replace(/^/gm, '  '));
  }
  print(io, lines.join('\n'));
  return 0;
}

export const userRoleCommands: Record<string, (args: string[], io: CliIo) => Promise<number>> = { grant, revoke, show };
