import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TEST_ENV } from '../support/app.ts';
import { cliBackends, gatehouse, gatehouseOk, withDb } from '../support/cli.ts';

type Env = Record<string, string>;

const backends = cliBackends(TEST_ENV);

const EMAIL = 'mod@example.com';

describe('gatehouse role without a database', () => {
  it('documents role add, list, show, remove and user show, grant, revoke in the usage', async () => {
    const { code, stdout } = await gatehouse(['--help'], {});
    expect(code).toBe(0);
    for (const words of ['role add NAME', '--permission P', '--client ID', '--description D', 'role list', 'role show NAME', 'role remove NAME',
      'user show --email E', 'user grant --email E --role NAME', 'user revoke --email E --role NAME']) {
      expect(stdout).toContain(words);
    }
    const missing = await gatehouse(['role'], {});
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('role needs a subcommand: add, list, show, remove');
  });
});

/** `gatehouse role` and `user grant|revoke|show` on the embedded store and on Postgres. */
describe.each(backends)('gatehouse role on $name', (backend) => {
  let env: Env;
  let dataDir: string;
  let cleanup: () => Promise<void>;
  const tables = () =>
    withDb(env, async (db) => ({
      roles: await db.selectFrom('roles').select(['name', 'client_id']).orderBy('name').orderBy('client_id').execute(),
      permissions: await db.selectFrom('role_permissions').select(['role_id', 'permission']).orderBy('role_id').orderBy('permission').execute(),
      grants: await db.selectFrom('account_roles').select(['account_id', 'role_id']).orderBy('account_id').orderBy('role_id').execute(),
    }));

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'gatehouse-cli-roles-'));
    ({ env, cleanup } = await backend.setup(dataDir));
    await gatehouseOk(['client', 'add', '--id', 'forum', '--redirect-uri', 'https://forum.example/cb'], env);
    await gatehouseOk(['client', 'add', '--id', 'shop', '--redirect-uri', 'https://shop.example/cb'], env);
    await gatehouseOk(['user', 'add', '--email', EMAIL], env);
  });

  afterAll(async () => {
    await cleanup?.();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('has the built-in global gatehouse:admin role from the migration', async () => {
    const shown = JSON.parse(await gatehouseOk(['role', 'show', 'gatehouse:admin', '--json'], env));
    expect(shown).toMatchObject({ name: 'gatehouse:admin', client_id: null, permissions: [] });
    expect(shown.description).toMatch(/Gatehouse/);
    // Global names are unique in the database too, although client_id is null (NULLs are distinct in a plain unique key).
    await expect(withDb(env, (db) => db.insertInto('roles').values({ name: 'gatehouse:admin', client_id: null }).execute())).rejects.toMatchObject({ code: '23505' });
  });

  it('adds global and per-client roles with permissions, and lists what a client may see', async () => {
    const added = await gatehouse(['role', 'add', 'moderator', '--permission', 'posts:delete', '--permission', 'posts:read', '--description', 'Keeps the forum clean'], env);
    expect(added.code).toBe(0);
    expect(added.stdout).toContain('added global role moderator');
    expect(added.stdout).toContain('  posts:delete\n  posts:read');
    // The same name as a client's own role is another role.
    await gatehouseOk(['role', 'add', 'moderator', '--client', 'forum', '--permission', 'threads:lock'], env);
    await gatehouseOk(['role', 'add', 'buyer', '--client', 'shop'], env);
    const shown = JSON.parse(await gatehouseOk(['role', 'show', 'moderator', '--client', 'forum', '--json'], env));
    expect(shown).toMatchObject({ name: 'moderator', client_id: 'forum', permissions: ['threads:lock'], description: '' });

    const all = JSON.parse(await gatehouseOk(['role', 'list', '--json'], env)) as { name: string; client_id: string | null }[];
    expect(all.map((role) => [role.name, role.client_id])).toEqual([
      ['gatehouse:admin', null], ['moderator', null], ['moderator', 'forum'], ['buyer', 'shop'],
    ]);
    const forum = JSON.parse(await gatehouseOk(['role', 'list', '--client', 'forum', '--json'], env)) as { name: string; client_id: string | null }[];
    expect(forum.map((role) => [role.name, role.client_id])).toEqual([['gatehouse:admin', null], ['moderator', null], ['moderator', 'forum']]);
    const table = await gatehouseOk(['role', 'list'], env);
    expect(table).toMatch(/^NAME\s+CLIENT\s+PERMISSIONS\s+DESCRIPTION\n/);
    expect(table).toMatch(/moderator\s+\(global\)\s+posts:delete posts:read\s+Keeps the forum clean/);
  });

  it('refuses bad input with a clear message and a non-zero exit, and changes nothing', async () => {
    const before = await tables();
    const usage: [string[], RegExp][] = [
      [['role', 'add'], /expected exactly one role name/],
      [['role', 'add', 'has space'], /name "has space": must be 1-128 characters/],
      [['role', 'add', 'r', '--permission', 'bad"quote'], /permission "bad"quote"/],
      [['role', 'add', 'r', '--permission', 'a', '--permission', 'a'], /permission "a": listed twice/],
      [['role', 'add', 'r', '--description', 'x'.repeat(201)], /description must be at most 200 characters/],
      [['role', 'add', 'r', '--client', ''], /--client must name a client/],
      [['role', 'remove', 'gatehouse:admin'], /built-in administrator role and cannot be removed/],
      [['user', 'grant', '--role', 'moderator'], /user grant needs --email/],
      [['user', 'grant', '--email', EMAIL], /user grant needs --role/],
      [['user', 'revoke', '--email', EMAIL], /user revoke needs --role/],
      [['user', 'show'], /user show needs --email/],
    ];
    for (const [args, message] of usage) {
      const result = await gatehouse(args, env);
      expect({ args, code: result.code }).toEqual({ args, code: 2 });
      expect(result.stderr).toMatch(message);
      expect(result.stderr).not.toMatch(/\n\s+at /);
    }
    const failures: [string[], string][] = [
      [['role', 'add', 'moderator'], 'a global role named "moderator" already exists'],
      [['role', 'add', 'buyer', '--client', 'shop'], 'a role of client "shop" named "buyer" already exists'],
      [['role', 'add', 'x', '--client', 'nope'], 'no client with id "nope"'],
      [['role', 'show', 'buyer'], 'no global role "buyer"'],
      [['role', 'show', 'moderator', '--client', 'shop'], 'no role "moderator" of client "shop"'],
      [['role', 'remove', 'ghost'], 'no global role "ghost"'],
      [['user', 'grant', '--email', EMAIL, '--role', 'ghost'], 'no global role "ghost"'],
      [['user', 'grant', '--email', EMAIL, '--role', 'buyer'], 'no global role "buyer"'],
      [['user', 'grant', '--email', 'nobody@example.com', '--role', 'moderator'], 'no account with email "nobody@example.com"'],
      [['user', 'revoke', '--email', EMAIL, '--role', 'ghost', '--client', 'forum'], 'no role "ghost" of client "forum"'],
      [['user', 'show', '--email', 'nobody@example.com'], 'no account with email "nobody@example.com"'],
    ];
    for (const [args, message] of failures) {
      const result = await gatehouse(args, env);
      expect({ args, code: result.code }).toEqual({ args, code: 1 });
      expect(result.stderr).toContain(message);
    }
    expect(await tables()).toEqual(before);
  });

  it('grants and revokes global and per-client roles, shows them, and audits every change', async () => {
    const operator = { ...env, USER: 'ops-ada' };
    expect(await gatehouseOk(['user', 'grant', '--email', EMAIL, '--role', 'moderator'], operator)).toBe(`granted role moderator to ${EMAIL}\n`);
    expect(await gatehouseOk(['user', 'grant', '--email', EMAIL, '--role', 'moderator'], operator)).toBe(`${EMAIL} already has role moderator\n`);
    await gatehouseOk(['user', 'grant', '--email', EMAIL, '--role', 'buyer', '--client', 'shop'], operator);
    await gatehouseOk(['user', 'grant', '--email', EMAIL, '--role', 'gatehouse:admin'], operator);
    const shown = await gatehouseOk(['user', 'show', '--email', EMAIL], env);
    expect(shown).toContain(`email: ${EMAIL}`);
    expect(shown).toMatch(/gatehouse:admin\s+\(global\)/);
    expect(shown).toMatch(/moderator\s+\(global\)\s+posts:delete posts:read/);
    expect(shown).toMatch(/buyer\s+shop/);
    expect(shown).toContain('upstream: none');
    // An upstream identity linked to the account (issue 12) is listed with the upstream's address.
    await withDb(env, async (db) => {
      const account = await db.selectFrom('accounts').select('id').where('email', '=', EMAIL).executeTakeFirstOrThrow();
      await db.insertInto('upstream_identities').values({ provider: 'google', subject: 'g-123', account_id: account.id, email: 'ada@gmail.example', last_used_at: null }).execute();
    });
    expect(await gatehouseOk(['user', 'show', '--email', EMAIL], env)).toContain('upstream: google (ada@gmail.example)');
    expect(await gatehouseOk(['user', 'revoke', '--email', EMAIL, '--role', 'buyer', '--client', 'shop'], operator)).toBe(`revoked role buyer (client shop) from ${EMAIL}\n`);
    expect(await gatehouseOk(['user', 'revoke', '--email', EMAIL, '--role', 'buyer', '--client', 'shop'], operator)).toBe(`${EMAIL} did not have role buyer (client shop)\n`);
    const json = JSON.parse(await gatehouseOk(['user', 'show', '--email', EMAIL, '--json'], env)) as { roles: { name: string }[]; upstreams: { provider: string }[] };
    expect(json.roles.map((role) => role.name)).toEqual(['gatehouse:admin', 'moderator']);
    expect(json.upstreams.map((identity) => identity.provider)).toEqual(['google']);

    // Removing a role takes it from its holders.
    expect(await gatehouseOk(['role', 'remove', 'moderator'], operator)).toBe('removed role moderator (taken from 1 account)\n');
    const after = JSON.parse(await gatehouseOk(['user', 'show', '--email', EMAIL, '--json'], env)) as { id: string; roles: { name: string }[] };
    expect(after.roles.map((role) => role.name)).toEqual(['gatehouse:admin']);
    expect((await gatehouse(['role', 'show', 'moderator'], env)).code).toBe(1);
    await gatehouseOk(['role', 'remove', 'moderator', '--client', 'forum'], operator);

    const events = JSON.parse(await gatehouseOk(['audit', 'list', '--json', '--limit', '100'], env)) as {
      type: string; account_id: string | null; client_id: string | null; details: Record<string, unknown>;
    }[];
    const roleEvents = events.filter((event) => event.type.startsWith('admin_role_'));
    expect(roleEvents.map((event) => [event.type, event.client_id, event.details.role])).toEqual([
      ['admin_role_added', null, 'moderator'],
      ['admin_role_added', 'forum', 'moderator'],
      ['admin_role_added', 'shop', 'buyer'],
      ['admin_role_granted', null, 'moderator'],
      ['admin_role_granted', null, 'moderator'],
      ['admin_role_granted', 'shop', 'buyer'],
      ['admin_role_granted', null, 'gatehouse:admin'],
      ['admin_role_revoked', 'shop', 'buyer'],
      ['admin_role_revoked', 'shop', 'buyer'],
      ['admin_role_removed', null, 'moderator'],
      ['admin_role_removed', 'forum', 'moderator'],
    ]);
    expect(roleEvents[0]!.details).toMatchObject({ permissions: ['posts:delete', 'posts:read'], via: 'cli' });
    expect(roleEvents[3]).toMatchObject({ account_id: after.id, details: { changed: true, via: 'cli', os_user: 'ops-ada' } });
    expect(roleEvents[4]!.details).toMatchObject({ changed: false });
    expect(roleEvents[9]!.details).toMatchObject({ account_count: 1, accounts: [after.id] });
  });
});
