import type { Account } from '../accounts/account.ts';
import { addUser, disableUser, listUsers } from '../admin/users.ts';
import { revokeUserSessions, unlockUser } from '../admin/user-access.ts';
import { UsageError } from '../errors.ts';
import { createPasswordHasher } from '../security/passwords.ts';
import { createPostgresAccountRevoker } from '../storage/postgres/oidc-adapter.ts';
import { createRedisClient } from '../storage/redis/client.ts';
import { createRedisAccountRevoker } from '../storage/redis/oidc-adapter.ts';
import { noPositionals, parseOptions, print, printJson, printListing, readStdin, withAuditedAction, withDatabase, type CliIo } from './context.ts';
import { userRoleCommands } from './user-role-commands.ts';

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
  printListing(
    io,
    values.json,
    accounts,
    { header: ['EMAIL', 'NAME', 'VERIFIED', 'STATUS', 'ID'], row: (a) => [a.email, a.name ?? '', String(a.emailVerified), a.disabled ? 'disabled' : 'active', a.id], empty: 'no users' },
    accounts.map(toJson),
  );
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

/** The --email of a command that acts on one account. */
function emailOption(args: string[], command: string): string {
  const { values, positionals } = parseOptions(args, { email: { type: 'string' } });
  noPositionals(positionals);
  if (values.email === undefined) throw new UsageError(`${command} needs --email`);
  return values.email;
}

async function unlock(args: string[], io: CliIo): Promise<number> {
  const email = emailOption(args, 'user unlock');
  const { account, wasLocked } = await withAuditedAction(
    io,
    ({ db }) => unlockUser(db, email),
    (result) => ({ type: 'admin_user_unlocked', accountId: result.account.id, details: { was_locked: result.wasLocked } }),
  );
  print(io, wasLocked ? `unlocked user ${account.email}` : `user ${account.email} was not locked; its failure count is cleared`);
  return 0;
}

/**
 * `user sessions revoke`: on the database the deletion commits with its audit event; in Redis it cannot
 * join the transaction, so it happens first and stays done even if the event then fails to write (an
 * unrecorded revocation errs on the safe side; the command still exits non-zero).
 */
async function sessions(args: string[], io: CliIo): Promise<number> {
  const [action, ...rest] = args;
  if (action !== 'revoke') throw new UsageError('user sessions needs a subcommand: revoke');
  const email = emailOption(rest, 'user sessions revoke');
  const account = await withAuditedAction(
    io,
    async ({ db, config }) => {
      if (!config.redis) return revokeUserSessions(db, createPostgresAccountRevoker(db), email);
      const redis = createRedisClient(config.redis.url, config.redis.timeouts, config.redis.sentinel);
      try {
        return await revokeUserSessions(db, createRedisAccountRevoker(redis, config.redis.keyPrefix), email);
      } finally {
        redis.disconnect();
      }
    },
    (revoked) => ({ type: 'admin_sessions_revoked', accountId: revoked.id }),
  );
  print(io, `revoked every session, grant and token of ${account.email}`);
  return 0;
}

export const userCommands: Record<string, (args: string[], io: CliIo) => Promise<number>> = {
  add,
  list,
  show: userRoleCommands.show!,
  disable,
  unlock,
  sessions,
  grant: userRoleCommands.grant!,
  revoke: userRoleCommands.revoke!,
};
