import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import argon2 from 'argon2';
import { sql } from 'kysely';
import Provider from 'oidc-provider';
import { runCli } from '../../src/cli/main.ts';
import { findAccountByEmail } from '../../src/storage/postgres/accounts.queries.ts';
import { findClientById } from '../../src/storage/postgres/clients.queries.ts';
import { openDatabase } from '../../src/storage/postgres/db.ts';
import { cliBackends, withDb } from '../support/cli.ts';

type Env = Record<string, string>;

function collector() {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      chunks.push(chunk.toString());
      callback();
    },
  });
  return { stream, text: () => chunks.join('') };
}

async function run(env: Env, argv: string[], stdin = '', signal?: AbortSignal) {
  const stdout = collector();
  const stderr = collector();
  const io = { env, stdin: Readable.from(stdin ? [stdin] : []), stdout: stdout.stream, stderr: stderr.stream, ...(signal ? { signal } : {}) };
  const code = await runCli(argv, io);
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}

const baseEnv = {
  NODE_ENV: 'test',
  ARGON2_MEMORY_KIB: '1024',
  ARGON2_TIME_COST: '1',
  COOKIE_SECRETS: 'c'.repeat(40),
  KEY_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64'),
};

const backends = cliBackends(baseEnv);

const noStack = /\n\s+at /;

describe('gatehouse CLI without a database', () => {
  it('prints the usage for help and no arguments, and exits 2 for unknown commands and options', async () => {
    for (const argv of [['--help'], ['help'], [], ['client', 'add', '-h']]) {
      const result = await run({}, argv);
      expect(result.code).toBe(0);
      for (const word of ['migrate', 'client add', 'client list', 'client show', 'client remove', 'user add', 'user list', 'user disable', 'keys list', 'keys rotate', 'audit list', 'audit tail', '--since', '--password-stdin', '--redirect-uri', '--public']) {
        expect(result.stdout).toContain(word);
      }
    }
    const unknown = await run({}, ['frobnicate']);
    expect(unknown).toMatchObject({ code: 2, stdout: '' });
    expect(unknown.stderr).toMatch(/^gatehouse: unknown command "frobnicate"/);
    expect(unknown.stderr).toContain('Usage: gatehouse');
    const option = await run({}, ['client', 'list', '--colour']);
    expect(option.code).toBe(2);
    expect(option.stderr).toMatch(/^gatehouse: Unknown option '--colour'/);
  });

  it('reports every configuration problem, exit 1, no stack trace', async () => {
    const result = await run({ NODE_ENV: 'test', DATA_DIR: 'memory://', KEY_ENCRYPTION_KEY: 'AAAA', ARGON2_MEMORY_KIB: 'lots' }, ['client', 'list']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^gatehouse: Invalid configuration:/);
    expect(result.stderr).toContain('KEY_ENCRYPTION_KEY');
    expect(result.stderr).toContain('ARGON2_MEMORY_KIB');
    expect(result.stderr).not.toMatch(noStack);
  });

  it('runs as the real bin/gatehouse.js', async () => {
    const root = fileURLToPath(new URL('../../', import.meta.url));
    const env = { ...process.env, PATH: `${join(root, 'node_modules/.bin')}:${process.env.PATH ?? ''}` };
    const { code, stdout } = await new Promise<{ code: number; stdout: string }>((resolve) => {
      execFile(join(root, 'bin/gatehouse.js'), ['--help'], { env, cwd: root }, (error, out) => {
        resolve({ code: error ? Number(error.code ?? 1) : 0, stdout: out });
      });
    });
    expect(code).toBe(0);
    expect(stdout).toContain('Usage: gatehouse <command>');
    expect(stdout).toContain('keys rotate');
  });
});

describe.each(backends)('gatehouse CLI on $name', (backend) => {
  let env: Env;
  let dataDir: string;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'gatehouse-cli-'));
    ({ env, cleanup } = await backend.setup(dataDir));
  });

  afterAll(async () => {
    await cleanup?.();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('migrates a fresh store once', async () => {
    const first = await run(env, ['migrate']);
    expect(first).toMatchObject({ code: 0, stdout: expect.stringContaining('applied migration 20261129000000_initial') });
    expect((await run(env, ['migrate'])).stdout).toContain('up to date');
  });

  it('prints a generated secret once, stores it, and never shows it again', async () => {
    const added = await run(env, ['client', 'add', '--id', 'web-app', '--redirect-uri', 'https://rp.example/cb', '--name', 'Web App']);
    expect(added.code).toBe(0);
    const secret = /client_secret: (\S+)/.exec(added.stdout)?.[1];
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const stored = await withDb(env, (db) => findClientById(db, 'web-app'));
    expect(stored?.metadata).toMatchObject({
      client_id: 'web-app',
      client_secret: secret,
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: ['https://rp.example/cb'],
      scope: 'openid email profile offline_access',
      client_name: 'Web App',
    });
    for (const argv of [['client', 'list'], ['client', 'list', '--json'], ['client', 'show', 'web-app'], ['client', 'show', 'web-app', '--json']]) {
      const result = await run(env, argv);
      expect(result.code).toBe(0);
      expect(result.stdout).toContain('web-app');
      expect(result.stdout).not.toContain(secret);
      expect(result.stdout).not.toMatch(/client_secret"?:/);
    }
    expect(JSON.parse((await run(env, ['client', 'show', 'web-app', '--json'])).stdout)).toMatchObject({ has_secret: true });
  });

  it('stores a given secret without printing it, and a public client with none and no secret', async () => {
    const given = 's'.repeat(40);
    const confidential = await run(env, ['client', 'add', '--id', 'given', '--secret', given, '--redirect-uri', 'http://127.0.0.1:8080/cb', '--auth-method', 'client_secret_post']);
    expect(confidential.code).toBe(0);
    expect(confidential.stdout).not.toContain(given);
    const pub = await run(env, ['client', 'add', '--id', 'app.native', '--public', '--redirect-uri', 'com.example.app:/cb', '--json']);
    expect(pub.code).toBe(0);
    expect(JSON.parse(pub.stdout)).toMatchObject({ token_endpoint_auth_method: 'none', application_type: 'native', has_secret: false });
    const machine = await run(env, ['client', 'add', '--id', 'machine', '--grant-types', 'client_credentials', '--json']);
    expect(JSON.parse(machine.stdout)).toMatchObject({ response_types: [], redirect_uris: [], client_secret: expect.any(String) });

    const rows = await withDb(env, async (db) => Promise.all(['given', 'app.native', 'machine'].map((id) => findClientById(db, id))));
    expect(rows[0]?.metadata).toMatchObject({ client_secret: given, token_endpoint_auth_method: 'client_secret_post' });
    expect(rows[1]?.metadata).not.toHaveProperty('client_secret');
    // What we store must be metadata oidc-provider itself accepts.
    const signingKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
    // A bare Provider warns about its in-memory adapter; it only validates metadata here.
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => {});
    const provider = new Provider('http://localhost:3000', {
      jwks: { keys: [{ ...signingKey, alg: 'RS256', use: 'sig' }] },
      claims: { email: ['email', 'email_verified'], profile: ['name'] },
      scopes: ['openid', 'offline_access', 'email', 'profile'],
      features: { clientCredentials: { enabled: true }, devInteractions: { enabled: false } },
    });
    warn.mockRestore();
    type Metadata = Parameters<typeof provider.Client.validate>[0];
    for (const row of rows) await expect(provider.Client.validate(row!.metadata as Metadata)).resolves.toBeUndefined();
  });

  it('refuses invalid clients with every reason (exit 2) and a taken id (exit 1)', async () => {
    const cases: [string[], RegExp][] = [
      [['--redirect-uri', 'not a url'], /"not a url": is not an absolute URL/],
      [['--redirect-uri', 'http://rp.example/cb'], /http is allowed only on loopback/],
      [['--redirect-uri', 'https://rp.example/cb#'], /must not have a fragment/],
      [[], /authorization_code needs at least one redirect URI/],
      [['--public', '--grant-types', 'client_credentials'], /client_credentials needs a confidential client/],
      [['--redirect-uri', 'com.example.app:/cb'], /add --public/],
    ];
    for (const [extra, message] of cases) {
      const result = await run(env, ['client', 'add', '--id', 'bad', ...extra]);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(message);
      expect(result.stderr).not.toMatch(noStack);
    }
    const duplicate = await run(env, ['client', 'add', '--id', 'web-app', '--redirect-uri', 'https://other.example/cb']);
    expect(duplicate).toMatchObject({ code: 1, stderr: expect.stringContaining('a client with id "web-app" already exists') });
    expect((await run(env, ['client', 'show', 'bad'])).code).toBe(1);
  });

  it('removes a client', async () => {
    expect((await run(env, ['client', 'remove', 'given'])).code).toBe(0);
    expect((await run(env, ['client', 'show', 'given'])).stderr).toContain('no client with id "given"');
    expect((await run(env, ['client', 'remove', 'given'])).code).toBe(1);
  });

  it('adds a user with a password from stdin, hashed with argon2id', async () => {
    const result = await run(env, ['user', 'add', '--email', 'Alice@Example.com', '--name', 'Alice', '--password-stdin', '--email-verified'], 'correct horse battery\n');
    expect(result.code).toBe(0);
    const row = await withDb(env, (db) => findAccountByEmail(db, 'alice@example.com'));
    expect(row).toMatchObject({ email: 'Alice@Example.com', name: 'Alice', email_verified: true, disabled_at: null });
    expect(row!.password_hash).toMatch(/^\$argon2id\$/);
    await expect(argon2.verify(row!.password_hash!, 'correct horse battery')).resolves.toBe(true);
    await expect(argon2.verify(row!.password_hash!, 'correct horse battery\n')).resolves.toBe(false);
  });

  it('refuses a taken email (any case) and a short password; a user without --password-stdin has none', async () => {
    const duplicate = await run(env, ['user', 'add', '--email', 'ALICE@example.COM']);
    expect(duplicate.code).toBe(1);
    expect(duplicate.stderr).toMatch(/an account with this email already exists/i);
    const short = await run(env, ['user', 'add', '--email', 'bob@example.com', '--password-stdin'], 'short\n');
    expect(short).toMatchObject({ code: 2, stderr: expect.stringContaining('at least 8 characters') });
    expect((await run(env, ['user', 'add', '--email', 'carol@example.com'])).code).toBe(0);
    expect((await withDb(env, (db) => findAccountByEmail(db, 'carol@example.com')))?.password_hash).toBeNull();
  });

  it('disables a user', async () => {
    expect((await run(env, ['user', 'disable', '--email', 'alice@EXAMPLE.com'])).code).toBe(0);
    const users = JSON.parse((await run(env, ['user', 'list', '--json'])).stdout) as { email: string; disabled: boolean }[];
    expect(users.find((user) => user.email === 'Alice@Example.com')?.disabled).toBe(true);
    expect(users.find((user) => user.email === 'carol@example.com')?.disabled).toBe(false);
    expect((await run(env, ['user', 'disable', '--email', 'nobody@example.com'])).code).toBe(1);
  });

  it('lists one current RS256 and ES256 key, and rotate adds next keys', async () => {
    const listKeys = async () => {
      const result = await run(env, ['keys', 'list', '--json']);
      expect(result.stdout).not.toMatch(/"d"|private/);
      return JSON.parse(result.stdout) as { kid: string; alg: string; status: string }[];
    };
    const before = await listKeys();
    expect(before.map((key) => `${key.alg}:${key.status}`).sort()).toEqual(['ES256:current', 'RS256:current']);
    const rotated = await run(env, ['keys', 'rotate']);
    expect(rotated.code).toBe(0);
    const after = await listKeys();
    const next = after.filter((key) => key.status === 'next');
    expect(next.map((key) => key.alg).sort()).toEqual(['ES256', 'RS256']);
    for (const key of next) expect(rotated.stdout).toContain(key.kid);
    expect(after.filter((key) => key.status === 'current')).toEqual(before);
  });

  type AuditJson = { id: string; type: string; outcome: string; account_id: string | null; account_email: string | null; client_id: string | null; ip: string | null; details: Record<string, unknown> };
  const auditJson = async (...filters: string[]) => {
    const result = await run(env, ['audit', 'list', '--json', '--limit', '1000', ...filters]);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    return JSON.parse(result.stdout) as AuditJson[];
  };

  it('records each admin action above as one admin_* event, and nothing for the refused ones', async () => {
    // Every run of the CLI opens the store (slow on the embedded one): one listing, filtered here.
    const all = await auditJson();
    const ofType = (type: string) => all.filter((event) => event.type === type);
    const clients = ofType('admin_client_added').map((event) => event.client_id);
    expect(clients).toEqual(expect.arrayContaining(['web-app', 'given', 'app.native', 'machine']));
    expect(clients).not.toContain('bad');
    expect(clients.filter((id) => id === 'web-app')).toHaveLength(1);
    expect(ofType('admin_client_removed').map((event) => event.client_id)).toEqual(['given']);
    // Created (twice refused: taken email, short password), then disabled; an unknown email changes nothing.
    const alice = await auditJson('--account', 'alice@example.com');
    expect(alice.map((event) => event.type)).toEqual(['admin_user_created', 'admin_user_disabled']);
    expect(alice[0]).toMatchObject({ outcome: 'success', account_email: 'Alice@Example.com', ip: null, details: { via: 'cli', email_verified: true, sign_in: 'password' } });
    expect(all.filter((event) => event.account_email === 'carol@example.com').map((event) => event.details.sign_in)).toEqual(['none']);
    const rotated = await auditJson('--type', 'admin_keys_rotated');
    expect(rotated).toEqual(ofType('admin_keys_rotated'));
    expect(rotated).toHaveLength(1);
    expect(rotated[0]!.details.kids).toEqual(expect.arrayContaining([expect.stringMatching(/^rs256-/), expect.stringMatching(/^es256-/)]));
  });

  it('keeps a generated client secret out of the audit trail, and names the operator and redirect URIs', async () => {
    const added = await run({ ...env, USER: 'ops-ada' }, ['client', 'add', '--id', 'audited', '--redirect-uri', 'https://audited.example/cb']);
    const secret = /client_secret: (\S+)/.exec(added.stdout)![1]!;
    const [event] = await auditJson('--type', 'admin_client_added', '--limit', '1');
    expect(event).toMatchObject({
      client_id: 'audited',
      details: { via: 'cli', os_user: 'ops-ada', redirect_uris: ['https://audited.example/cb'], grant_types: ['authorization_code', 'refresh_token'], auth_method: 'client_secret_basic' },
    });
    const table = await withDb(env, (db) => db.selectFrom('audit_events').selectAll().execute());
    expect(JSON.stringify(table)).not.toContain(secret);
  });

  it('lists events one per line for people, filtered by type, time and count', async () => {
    const all = await auditJson();
    const human = await run(env, ['audit', 'list', '--limit', '1000']);
    expect(human.code).toBe(0);
    const lines = human.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(all.length);
    const disabled = lines.find((line) => line.includes('admin_user_disabled'))!;
    expect(disabled).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z {2}admin_user_disabled +success {2}Alice@Example\.com {2}- {2}- {2}via=cli$/);
    expect(lines.find((line) => line.includes('admin_client_removed'))).toMatch(/success {2}- {2}given {2}- {2}via=cli$/);

    const lastTwo = await run(env, ['audit', 'list', '--limit', '2']);
    expect(lastTwo.stdout.trimEnd().split('\n')).toEqual(lines.slice(-2));
    expect(await auditJson('--since', '1h')).toEqual(all);
    expect((await run(env, ['audit', 'list', '--since', '2999-01-01T00:00:00Z'])).stdout).toBe('no audit events\n');
  });

  it('refuses bad filters: usage errors exit 2, an unknown account exits 1', async () => {
    for (const [argv, message] of [
      [['--type', 'sign_inn'], /unknown event type "sign_inn"; the types are: sign_in, /],
      [['--since', 'yesterday'], /--since takes a duration such as 90s/],
      [['--since', '2026-13-45'], /not a valid date/],
      [['--limit', '0'], /--limit takes a number from 1 to 10000/],
    ] as const) {
      const result = await run(env, ['audit', 'list', ...argv]);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(message);
    }
    const unknown = await run(env, ['audit', 'list', '--account', 'nobody@example.com']);
    expect(unknown).toMatchObject({ code: 1, stderr: expect.stringContaining('no account with email "nobody@example.com"') });
  });

  it('does not make a change whose audit event cannot be written (exit 1, nothing created)', async () => {
    // The table out of the way stands for any failed write; migrations are recorded as applied, so nothing recreates it.
    await withDb(env, (db) => sql`alter table audit_events rename to audit_events_away`.execute(db));
    try {
      const result = await run(env, ['user', 'add', '--email', 'dave@example.com']);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('gatehouse: The audit trail cannot be written right now, so the action was refused.');
      expect(result.stderr).toContain('"msg":"audit event not recorded"');
      expect(await withDb(env, (db) => findAccountByEmail(db, 'dave@example.com'))).toBeUndefined();
    } finally {
      await withDb(env, (db) => sql`alter table audit_events_away rename to audit_events`.execute(db));
    }
  });

  it('tails: prints the newest events, then stops after --for or when interrupted', async () => {
    const all = await auditJson();
    const started = Date.now();
    const timed = await run(env, ['audit', 'tail', '--json', '--limit', '3', '--interval', '50ms', '--for', '300ms']);
    expect(timed.code).toBe(0);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(timed.stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as AuditJson)).toEqual(all.slice(-3));

    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    const interrupted = await run(env, ['audit', 'tail', '--type', 'admin_user_disabled'], '', controller.signal);
    expect(interrupted.code).toBe(0);
    expect(interrupted.stdout).toMatch(/admin_user_disabled +success {2}Alice@Example\.com/);
  });

  if (backend.name === 'Postgres') {
    it('tails: follows events written while it runs (a server and the CLI sharing Postgres)', async () => {
      const controller = new AbortController();
      const tailing = run(env, ['audit', 'tail', '--json', '--type', 'admin_client_removed', '--interval', '50ms', '--for', '20s'], '', controller.signal);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect((await run(env, ['client', 'remove', 'audited'])).code).toBe(0);
      await new Promise((resolve) => setTimeout(resolve, 300));
      controller.abort();
      const events = (await tailing).stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as AuditJson);
      expect(events.map((event) => event.client_id)).toEqual(['given', 'audited']);
    });
  }
});

describe('gatehouse CLI while another process holds the embedded store', () => {
  it('exits 1 with the store-locked message', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'gatehouse-cli-lock-'));
    const holder = await openDatabase({ kind: 'embedded', dataDir });
    try {
      const result = await run({ ...baseEnv, DATA_DIR: dataDir }, ['client', 'list']);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/^gatehouse: The embedded database in .* is in use by another Gatehouse process/);
    } finally {
      await holder.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
