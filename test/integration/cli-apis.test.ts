import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TEST_ENV } from '../support/app.ts';
import { cliBackends, gatehouse, withDb } from '../support/cli.ts';

type Env = Record<string, string>;

const backends = cliBackends(TEST_ENV);

const POSTS = 'https://api.example.test';

describe('gatehouse api without a database', () => {
  it('documents api add, update, list, show, remove and client add --api in the usage', async () => {
    const { code, stdout } = await gatehouse(['--help'], {});
    expect(code).toBe(0);
    for (const words of ['api add --id URI --name N --scope S', '--format jwt|opaque', '--ttl SECONDS', '--no-rbac', 'api update --id URI', '--rbac | --no-rbac', 'Replaces the whole scope list', 'within 30 seconds', 'api list', 'api show URI', 'api remove URI', '--api URI', '--introspects URI']) {
      expect(stdout).toContain(words);
    }
    const missing = await gatehouse(['api'], {});
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('api needs a subcommand: add, update, list, show, remove');
  });
});

/** `gatehouse api` and `client add --api` on the embedded store and on Postgres (the CLI's own store access). */
describe.each(backends)('gatehouse api on $name', (backend) => {
  let env: Env;
  let dataDir: string;
  let cleanup: () => Promise<void>;
  const apiRows = () => withDb(env, (db) => db.selectFrom('apis').select('identifier').orderBy('identifier').execute());
  const clientIds = () => withDb(env, (db) => db.selectFrom('clients').select('id').orderBy('id').execute());

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'gatehouse-cli-apis-'));
    ({ env, cleanup } = await backend.setup(dataDir));
  });

  afterAll(async () => {
    await cleanup?.();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('registers an API with scopes and their descriptions, JWT and the access-token TTL by default', async () => {
    const added = await gatehouse(['api', 'add', '--id', POSTS, '--name', 'Posts API', '--scope', 'posts:read Read your posts', '--scope', 'posts:write'], env);
    expect(added.code).toBe(0);
    expect(added.stdout).toContain(`added API ${POSTS}`);
    expect(added.stdout).toContain('posts:read  Read your posts');
    const shown = await gatehouse(['api', 'show', POSTS, '--json'], env);
    expect(JSON.parse(shown.stdout)).toMatchObject({
      identifier: POSTS,
      name: 'Posts API',
      scopes: [{ name: 'posts:read', description: 'Read your posts' }, { name: 'posts:write', description: '' }],
      token_format: 'jwt',
      token_ttl_seconds: 3600,
      rbac: true,
    });
    const local = await gatehouse(['api', 'add', '--id', 'http://localhost:9000/api', '--name', 'Dev API', '--scope', 'dev', '--format', 'opaque', '--ttl', '120', '--no-rbac'], env);
    expect(local.code).toBe(0);
    expect(local.stdout).toContain('rbac: false');
    const listed = await gatehouse(['api', 'list'], env);
    expect(listed.stdout).toMatch(/^IDENTIFIER\s+NAME\s+FORMAT\s+TTL\s+SCOPES\n/);
    expect(listed.stdout).toMatch(/http:\/\/localhost:9000\/api\s+Dev API\s+opaque\s+120\s+dev/);
    expect(listed.stdout).toMatch(/https:\/\/api\.example\.test\s+Posts API\s+jwt\s+3600\s+posts:read posts:write/);
  });

  it('refuses bad input with a clear message, exit 2, and changes nothing', async () => {
    const before = await apiRows();
    const cases: [string[], RegExp][] = [
      [['--name', 'N', '--scope', 's'], /api add needs --id URI/],
      [['--id', 'https://x.example.test', '--scope', 's'], /api add needs --name/],
      [['--id', 'https://x.example.test', '--name', 'N'], /at least one --scope/],
      [['--id', 'api.example.test', '--name', 'N', '--scope', 's'], /must be an absolute URI/],
      [['--id', 'http://api.example.test', '--name', 'N', '--scope', 's'], /http is allowed only on loopback/],
      [['--id', 'https://api.example.test/#x', '--name', 'N', '--scope', 's'], /must not have a fragment/],
      [['--id', 'https://api.example.test/?v=1', '--name', 'N', '--scope', 's'], /must not have a query/],
      [['--id', 'urn:example:api', '--name', 'N', '--scope', 's'], /must be an https URI/],
      [['--id', 'https://x.example.test', '--name', 'N', '--scope', 'openid'], /scope "openid": is one of Gatehouse's own/],
      [['--id', 'https://x.example.test', '--name', 'N', '--scope', 'a', '--scope', 'a again'], /scope "a": listed twice/],
      [['--id', 'https://x.example.test', '--name', 'N', '--scope', 'bad"quote'], /scope "bad"quote"/],
      [['--id', 'https://x.example.test', '--name', 'N', '--scope', 's', '--format', 'xml'], /format "xml" is not one of jwt, opaque/],
      [['--id', 'https://x.example.test', '--name', 'N', '--scope', 's', '--ttl', '10'], /ttl must be a whole number of seconds from 60 to 86400/],
      [['--id', 'https://x.example.test', '--name', 'N', '--scope', 's', '--ttl', 'soon'], /--ttl must be a whole number of seconds/],
    ];
    for (const [args, message] of cases) {
      const result = await gatehouse(['api', 'add', ...args], env);
      expect({ args, code: result.code }).toEqual({ args, code: 2 });
      expect(result.stderr).toMatch(message);
      expect(result.stderr).not.toMatch(/\n\s+at /);
    }
    const taken = await gatehouse(['api', 'add', '--id', POSTS, '--name', 'Again', '--scope', 'x'], env);
    expect(taken.code).toBe(1);
    expect(taken.stderr).toContain(`an API with identifier "${POSTS}" already exists`);
    expect(await apiRows()).toEqual(before);
    const unknown = await gatehouse(['api', 'show', 'https://nope.example.test'], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no API with identifier "https://nope.example.test"');
  });

  it('lets client add --api name registered APIs only, and API scopes only of those APIs', async () => {
    const before = await clientIds();
    const unknown = await gatehouse(['client', 'add', '--id', 'svc', '--grant-types', 'client_credentials', '--api', 'https://nope.example.test'], env);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('API "https://nope.example.test" is not registered');
    const undefinedScope = await gatehouse(['client', 'add', '--id', 'svc', '--grant-types', 'client_credentials', '--scope', 'posts:delete', '--api', POSTS], env);
    expect(undefinedScope.code).toBe(2);
    expect(undefinedScope.stderr).toContain('scope "posts:delete" is neither an OpenID Connect scope nor defined by an API given with --api');
    const noApi = await gatehouse(['client', 'add', '--id', 'svc', '--grant-types', 'client_credentials', '--scope', 'posts:read'], env);
    expect(noApi.code).toBe(2);
    expect(noApi.stderr).toContain('an API scope needs the API given with --api');
    const badUri = await gatehouse(['client', 'add', '--id', 'svc', '--grant-types', 'client_credentials', '--api', 'http://api.example.test'], env);
    expect(badUri.code).toBe(2);
    expect(badUri.stderr).toContain('http is allowed only on loopback');
    const unknownServed = await gatehouse(['client', 'add', '--id', 'rs', '--grant-types', 'client_credentials', '--introspects', 'https://nope.example.test'], env);
    expect(unknownServed.code).toBe(2);
    expect(unknownServed.stderr).toContain('API "https://nope.example.test" is not registered');
    const publicServer = await gatehouse(['client', 'add', '--id', 'rs', '--public', '--redirect-uri', 'https://rp.example/cb', '--introspects', POSTS], env);
    expect(publicServer.code).toBe(2);
    expect(publicServer.stderr).toContain('--introspects needs a confidential client (not --public)');
    // Being the resource server of an API gives its scopes nothing: only --api does.
    const servedScope = await gatehouse(['client', 'add', '--id', 'rs', '--grant-types', 'client_credentials', '--scope', 'posts:read', '--introspects', POSTS], env);
    expect(servedScope.code).toBe(2);
    expect(await clientIds()).toEqual(before);

    const added = await gatehouse(['client', 'add', '--id', 'svc', '--grant-types', 'client_credentials', '--scope', 'posts:read', '--api', POSTS, '--json'], env);
    expect(added.code).toBe(0);
    expect(JSON.parse(added.stdout)).toMatchObject({ client_id: 'svc', allowed_apis: [POSTS], api_scope: 'posts:read' });
    expect(JSON.parse(added.stdout).scope).toBeUndefined();
    const web = await gatehouse(['client', 'add', '--id', 'web', '--redirect-uri', 'https://rp.example/cb', '--api', POSTS, '--api', 'http://localhost:9000/api'], env);
    expect(web.code).toBe(0);
    expect(web.stdout).toContain(`allowed_apis: ${POSTS} http://localhost:9000/api`);
    const rs = await gatehouse(['client', 'add', '--id', 'rs', '--grant-types', 'client_credentials', '--introspects', POSTS, '--json'], env);
    expect(rs.code).toBe(0);
    expect(JSON.parse(rs.stdout)).toMatchObject({ client_id: 'rs', resource_server_for: [POSTS] });
  });

  it('refuses a bad api update with a clear message and changes nothing', async () => {
    const showPosts = async () => JSON.parse((await gatehouse(['api', 'show', POSTS, '--json'], env)).stdout) as Record<string, unknown>;
    const before = await showPosts();
    const cases: [string[], number, RegExp][] = [
      [['--name', 'N'], 2, /api update needs --id URI/],
      [['--id', POSTS], 2, /api update needs at least one of --name, --scope, --format, --ttl, --rbac, --no-rbac/],
      [['--id', POSTS, '--rbac', '--no-rbac'], 2, /give --rbac or --no-rbac, not both/],
      [['--id', POSTS, '--format', 'xml'], 2, /format "xml" is not one of jwt, opaque/],
      [['--id', POSTS, '--ttl', '10'], 2, /ttl must be a whole number of seconds from 60 to 86400/],
      [['--id', POSTS, '--ttl', 'soon'], 2, /--ttl must be a whole number of seconds/],
      [['--id', POSTS, '--name', ' '], 2, /name must be 1-200 characters/],
      [['--id', POSTS, '--scope', 'openid', '--scope', 'a', '--scope', 'a'], 2, /scope "openid": is one of Gatehouse's own[\s\S]*scope "a": listed twice/],
      [['--id', 'https://nope.example.test', '--name', 'N'], 1, /no API with identifier "https:\/\/nope.example.test"/],
    ];
    for (const [args, code, message] of cases) {
      const result = await gatehouse(['api', 'update', ...args], env);
      expect({ args, code: result.code }).toEqual({ args, code });
      expect(result.stderr).toMatch(message);
      expect(result.stderr).not.toMatch(/\n\s+at /);
    }
    expect(await showPosts()).toEqual(before);
  });

  it('updates an API, takes a removed scope out of its clients, audits each change and says when servers see it', async () => {
    const renamed = await gatehouse(['api', 'update', '--id', POSTS, '--name', 'Posts', '--ttl', '900', '--no-rbac', '--format', 'opaque'], { ...env, USER: 'ops-ada' });
    expect(renamed.code).toBe(0);
    expect(renamed.stdout).toContain(`updated API ${POSTS} (name, format, ttl_seconds, rbac)`);
    expect(renamed.stdout).toContain('running servers use the change within 30 seconds');
    expect(JSON.parse((await gatehouse(['api', 'show', POSTS, '--json'], env)).stdout)).toMatchObject({
      name: 'Posts',
      token_format: 'opaque',
      token_ttl_seconds: 900,
      rbac: false,
      // Scopes not given stay as they were.
      scopes: [{ name: 'posts:read', description: 'Read your posts' }, { name: 'posts:write', description: '' }],
    });
    const back = await gatehouse(['api', 'update', '--id', POSTS, '--rbac', '--format', 'jwt', '--json'], env);
    expect(back.code).toBe(0);
    expect(JSON.parse(back.stdout)).toMatchObject({ rbac: true, token_format: 'jwt', token_ttl_seconds: 900, name: 'Posts' });
    const same = await gatehouse(['api', 'update', '--id', POSTS, '--rbac'], env);
    expect(same.stdout).toMatch(new RegExp(`^API ${POSTS} unchanged\n`));

    // svc was given posts:read; the new list drops it, so svc's api_scope loses it in the same transaction.
    const rescoped = await gatehouse(['api', 'update', '--id', POSTS, '--scope', 'posts:write Publish posts', '--scope', 'posts:list'], env);
    expect(rescoped.code).toBe(0);
    expect(rescoped.stdout).toContain('removed scopes taken out of the api_scope of: svc');
    expect(JSON.parse((await gatehouse(['api', 'show', POSTS, '--json'], env)).stdout).scopes).toEqual([
      { name: 'posts:write', description: 'Publish posts' },
      { name: 'posts:list', description: '' },
    ]);
    const svc = JSON.parse((await gatehouse(['client', 'show', 'svc', '--json'], env)).stdout);
    expect(svc.api_scope).toBeUndefined();
    expect(svc.allowed_apis).toEqual([POSTS]);

    const events = JSON.parse((await gatehouse(['audit', 'list', '--json', '--limit', '100'], env)).stdout) as { type: string; details: Record<string, unknown> }[];
    const updates = events.filter((event) => event.type === 'admin_api_updated');
    expect(updates).toHaveLength(4);
    expect(updates[0]!.details).toEqual({
      api: POSTS,
      changed: ['name', 'format', 'ttl_seconds', 'rbac'],
      name: 'Posts',
      format: 'opaque',
      ttl_seconds: 900,
      rbac: false,
      clients: [],
      via: 'cli',
      os_user: 'ops-ada',
    });
    expect(updates[2]!.details).toMatchObject({ changed: [] });
    expect(updates[3]!.details).toMatchObject({ changed: ['scopes'], scopes_added: ['posts:list'], scopes_removed: ['posts:read'], clients: ['svc'] });
  });

  it('removes an API and takes it off every client that was allowed it, in the audit trail', async () => {
    const removed = await gatehouse(['api', 'remove', POSTS], { ...env, USER: 'ops-ada' });
    expect(removed.code).toBe(0);
    expect(removed.stdout).toBe(`removed API ${POSTS} (no longer allowed for: rs, svc, web)\n`);
    expect(JSON.parse((await gatehouse(['client', 'show', 'rs', '--json'], env)).stdout).resource_server_for).toBeUndefined();
    expect(JSON.parse((await gatehouse(['client', 'show', 'web', '--json'], env)).stdout).allowed_apis).toEqual(['http://localhost:9000/api']);
    expect(JSON.parse((await gatehouse(['client', 'show', 'svc', '--json'], env)).stdout).allowed_apis).toBeUndefined();
    expect((await gatehouse(['api', 'show', POSTS], env)).code).toBe(1);
    const again = await gatehouse(['api', 'remove', POSTS], env);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`no API with identifier "${POSTS}"`);

    const events = JSON.parse((await gatehouse(['audit', 'list', '--json', '--limit', '100'], env)).stdout) as { type: string; details: Record<string, unknown> }[];
    const added = events.filter((event) => event.type === 'admin_api_added');
    expect(added.map((event) => event.details.api)).toEqual([POSTS, 'http://localhost:9000/api']);
    expect(added[0]!.details).toMatchObject({ scopes: ['posts:read', 'posts:write'], format: 'jwt', ttl_seconds: 3600, rbac: true, via: 'cli' });
    expect(added[1]!.details).toMatchObject({ rbac: false });
    const gone = events.filter((event) => event.type === 'admin_api_removed');
    expect(gone).toHaveLength(1);
    expect(gone[0]!.details).toMatchObject({ api: POSTS, clients: ['rs', 'svc', 'web'], via: 'cli', os_user: 'ops-ada' });
  });
});
