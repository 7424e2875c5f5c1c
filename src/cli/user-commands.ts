import type { Account } from '../accounts/account.ts';
import { addUser, disableUser, listUsers } from '../admin/users.ts';
import { UsageError } from '../errors.ts';
import { createPasswordHasher } from '../security/passwords.ts';
import { formatTable, noPositionals, parseOptions, print, printJson, readStdin, withAuditedAction, withDatabase, type CliIo } from './context.ts';

/** snake_case like every other CLI JSON (client metadata, keys). */
function toJson(account: Account) {
  return {
    id: account.id,
    email: account.email,
    email_verified: account.emailVerified,
    name: account.name,
    disabled: account.disabled,
    created_at: account.createdAt.toISOString(),
  };
}

async function add(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseOptions(args, {
    email: { type: 'string' },
    name: { type: 'string' },
    'password-stdin': { type: 'boolean' },
    'email-verified': { type: 'boolean' },
    json: { type: 'boolean' },
  });
  noPositionals(positionals);
  if (values.email === undefined) throw new UsageError('user add needs --email');
  // Read before opening the store: a slow stdin must not hold the embedded store's lock.
  const password = values['password-stdin'] ? await readStdin(io.stdin) : undefined;
  const input = { email: values.email, name: values.name, password, emailVerified: values['email-verified'] ?? false };
  const account = await withAuditedAction(
    io,
    async ({ db, config }) => addUser(db, await createPasswordHasher(config.argon2), input),
    (added) => ({
      type: 'admin_user_created',
      accountId: added.id,
      details: { email_verified: added.emailVerified, sign_in: password === undefined ? 'none' : 'password' },
    }),
  );
  if (values.json) printJson(io, toJson(account));
  else print(io, `added user ${account.email} (id ${account.id}${password === undefined ? ', no password' : ''})`);
  return 0;
}

async function list(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseOptions(args, { json: { type: 'boolean' } });
  noPositionals(positionals);
  const accounts = await withDatabase(io, ({ db }) => listUsers(db));
  if (values.json) printJson(io, accounts.map(toJson));
  else if (accounts.length === 0) print(io, 'no users');
  else {
    const rows = accounts.map((a) => [a.email, a.name ?? '', String(a.emailVerified), a.disabled ? 'disabled' : 'active', a.id]);
    print(io, formatTable([['EMAIL', 'NAME', 'VERIFIED', 'STATUS', 'ID'], ...rows]));
  }
  return 0;
}

async function disable(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseOptions(args, { email: { type: 'string' } });
  noPositionals(positionals);
  const email = values.email;
  if (email === undefined) throw new UsageError('user disable needs --email');
  await withAuditedAction(io, ({ db }) => disableUser(db, email), (account) => ({ type: 'admin_user_disabled', accountId: account.id }));
  print(io, `disabled user ${email.trim()}`);
  return 0;
}

export const userCommands: Record<string, (args: string[], io: CliIo) => Promise<number>> = { add, list, disable };
