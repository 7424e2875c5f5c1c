import { createCipheriv, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import { generate } from 'otplib';
import { createAccount } from '../../src/accounts/create-account.ts';
import { confirmTotpEnrolment, startTotpEnrolment, totpSecretAad } from '../../src/accounts/mfa/totp.ts';
import { EncryptionKeyMissingError } from '../../src/errors.ts';
import { createKeyRing, decryptSecret, encryptionKeyId } from '../../src/security/encryption.ts';
import type { Db } from '../../src/storage/postgres/db.ts';
import { startTestServer, TEST_ENV, type TestServer } from '../support/app.ts';
import { createTestDatabase, postgresUrl } from '../support/backends.ts';
import { formAction, inputValue, UserAgent } from '../support/browserless.ts';
import { gatehouse, gatehouseOk, withDb } from '../support/cli.ts';
import { REDIRECT_URI } from '../support/e2e.ts';
import { seedBasics, WEB_SECRET } from '../support/fixtures.ts';
import { openLoginPage, rawAuthorization, submit } from '../support/forms.ts';
import { killLeftovers, startGatehouseProcess } from '../support/gatehouse-process.ts';

/**
 * REL-F7: KEY_ENCRYPTION_KEY (TOTP seeds, private signing keys) rotates without a failed sign-in:
 * append the new key, move it to the front, `gatehouse keys reencrypt`, drop the old key. Every step is
 * a restart of the real app on the same store, and every step signs in with a password and a TOTP code
 * and checks the ID token against the server's JWKS (the provider loaded its encrypted signing keys).
 */
const OLD = TEST_ENV.KEY_ENCRYPTION_KEY;
const NEW = Buffer.alloc(32, 8).toString('base64');
const OTHER = Buffer.alloc(32, 9).toString('base64');
const idOf = (key: string) => encryptionKeyId(Buffer.from(key, 'base64'));
const PASSWORD = 'a rotation needs a long password';

/**
 * The format the release before key ids wrote (`v1.<iv>.<tag>.<ciphertext>`, no key id), so the test
 * starts from a database as an upgrade finds it.
 */
function sealV1(key: string, plaintext: string, aad: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', Buffer.from(key, 'base64'), iv);
  cipher.setAAD(Buffer.from(aad));
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return ['v1', ...[iv, cipher.getAuthTag(), ciphertext].map((part) => part.toString('base64url'))].join('.');
}

/** Rewrites every sealed secret in the v1 format under `key` (it was sealed under `key` already). */
async function downgradeToV1(db: Db, key: string): Promise<void> {
  const ring = createKeyRing([Buffer.from(key, 'base64')]);
  for (const row of await db.selectFrom('account_totp').select(['account_id', 'secret_encrypted']).execute()) {
    const aad = totpSecretAad(row.account_id);
    const legacy = sealV1(key, decryptSecret(ring, row.secret_encrypted, aad), aad);
    await db.updateTable('account_totp').set({ secret_encrypted: legacy }).where('account_id', '=', row.account_id).execute();
  }
  for (const row of await db.selectFrom('signing_keys').select(['kid', 'private_jwk_encrypted']).execute()) {
    const legacy = sealV1(key, decryptSecret(ring, row.private_jwk_encrypted, row.kid), row.kid);
    await db.updateTable('signing_keys').set({ private_jwk_encrypted: legacy }).where('kid', '=', row.kid).execute();
  }
}

/** Every stored secret's format and key id: `v1` or `v2.<key id>`. */
async function sealedBy(db: Db): Promise<string[]> {
  const totp = await db.selectFrom('account_totp').select('secret_encrypted as sealed').execute();
  const keys = await db.selectFrom('signing_keys').select('private_jwk_encrypted as sealed').execute();
  return [...totp, ...keys].map(({ sealed }) => (sealed.startsWith('v2.') ? sealed.split('.').slice(0, 2).join('.') : sealed.split('.')[0]!));
}

/** The server's clock runs ahead by `offset`, so each sign-in can use a fresh TOTP step without waiting. */
const clockState = { offset: 0 };
const clock = () => Date.now() + clockState.offset;

interface TotpUser {
  email: string;
  secret: string;
}

/** An account with an active authenticator, enrolled through the app's own TOTP code (sealed under the first key). */
async function enrolledUser(server: TestServer, email: string): Promise<TotpUser> {
  const account = await createAccount(server.app.db, server.app.hasher, { email, password: PASSWORD, emailVerified: true });
  const deps = { db: server.app.db, keyEncryptionKeys: server.config.keyEncryptionKeys, now: () => new Date(clock() - 60_000) };
  const secret = (await startTotpEnrolment(deps, account, 'Gatehouse'))!.secret;
  expect(await confirmTotpEnrolment(deps, account.id, await generate({ secret, epoch: Math.floor((clock() - 60_000) / 1000) }))).toBe(true);
  return { email, secret };
}

/**
 * Password, then the TOTP code, through the real pages of the first-party `house` client (no consent),
 * then the code at /token; the ID token must verify against the server's JWKS.
 * @returns the status of the code POST (303 accepted) and the signing key's kid.
 */
async function signInWithTotp(server: TestServer, user: TotpUser, code?: string, nextStep = true): Promise<{ codeStatus: number; kid?: string }> {
  // Sign-ins of different users at once share one step (each account has its own replay guard).
  if (nextStep) clockState.offset += 30_000;
  const ua = new UserAgent();
  const auth = rawAuthorization(server.issuer, { client_id: 'house', redirect_uri: REDIRECT_URI });
  const login = await openLoginPage(ua, server.issuer, auth.url);
  const afterPassword = await submit(ua, login.login, { email: user.email, password: PASSWORD });
  expect(afterPassword.status).toBe(303);
  const mfa = await ua.follow(login.url, server.issuer, afterPassword);
  const html = await mfa.response.text();
  const typed = code ?? (await generate({ secret: user.secret, epoch: Math.floor(clock() / 1000) }));
  const posted = await ua.post(new URL(formAction(html, '/mfa'), server.issuer).href, { code: typed, csrf: inputValue(html, 'csrf') });
  if (posted.status !== 303) return { codeStatus: posted.status };
  const landed = (await ua.follow(mfa.url, server.issuer, posted)).url;
  expect(landed.startsWith(REDIRECT_URI)).toBe(true);
  const tokens = await fetch(`${server.issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`house:${WEB_SECRET}`).toString('base64')}` },
    body: new URLSearchParams({ grant_type: 'authorization_code', code: new URL(landed).searchParams.get('code')!, redirect_uri: REDIRECT_URI, code_verifier: auth.verifier }),
  });
  expect(tokens.status).toBe(200);
  const { id_token: idToken } = (await tokens.json()) as { id_token: string };
  const jwks = (await (await fetch(`${server.issuer}/jwks`)).json()) as JSONWebKeySet;
  const { payload, protectedHeader } = await jwtVerify(idToken, createLocalJWKSet(jwks), { issuer: server.issuer, audience: 'house', currentDate: new Date(clock()) });
  expect(payload.amr).toEqual(['pwd', 'otp', 'mfa']);
  return { codeStatus: 303, ...(protectedHeader.kid ? { kid: protectedHeader.kid } : {}) };
}

describe('rotating KEY_ENCRYPTION_KEY step by step (embedded store, restarted at each step)', () => {
  let dir: string;
  let server: TestServer | undefined;
  let first: TotpUser;
  let second: TotpUser;
  let signingKid: string | undefined;
  const envWith = (keys: string[]) => ({ ...TEST_ENV, DATA_DIR: dir, KEY_ENCRYPTION_KEY: keys.join(',') });

  async function restart(keys: string[]): Promise<TestServer> {
    await server?.close();
    server = undefined;
    server = await startTestServer(envWith(keys), { clock });
    return server;
  }

  async function stop(): Promise<void> {
    await server?.close();
    server = undefined;
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gatehouse-kek-'));
    const started = await restart([OLD]);
    await seedBasics(started);
    first = await enrolledUser(started, 'first@example.com');
    // As the release before key ids left the database: TOTP seeds and signing keys in v1, under OLD.
    await downgradeToV1(started.app.db, OLD);
    expect(new Set(await sealedBy(started.app.db))).toEqual(new Set(['v1']));
  });

  afterAll(async () => {
    await stop();
    killLeftovers();
    await rm(dir, { recursive: true, force: true });
  });

  it('signs in with a TOTP code and signs tokens under the old key alone, from secrets written before key ids', async () => {
    const running = await restart([OLD]);
    const result = await signInWithTotp(running, first);
    expect(result.codeStatus).toBe(303);
    signingKid = result.kid;
    expect(signingKid).toBeDefined();
    // A wrong code is still refused: the seed really is read, not skipped.
    expect((await signInWithTotp(running, first, '000000')).codeStatus).toBe(400);
  });

  it('keeps signing in when the new key is appended, then moved to the front; new secrets go under the first key', async () => {
    let running = await restart([OLD, NEW]);
    expect((await signInWithTotp(running, first)).codeStatus).toBe(303);
    running = await restart([NEW, OLD]);
    const result = await signInWithTotp(running, first);
    expect(result.codeStatus).toBe(303);
    expect(result.kid).toBe(signingKid);
    second = await enrolledUser(running, 'second@example.com');
    expect((await signInWithTotp(running, second)).codeStatus).toBe(303);
    const formats = await sealedBy(running.app.db);
    expect(formats).toContain(`v2.${idOf(NEW)}`);
    expect(formats).toContain('v1');
  });

  it('refuses to start, naming what is missing and without a stack, while a stored secret is under a key no longer configured', async () => {
    await stop();
    // In-process: the typed error, listing both stores.
    const refused = startTestServer(envWith([NEW]), { clock });
    await expect(refused).rejects.toBeInstanceOf(EncryptionKeyMissingError);
    await expect(refused).rejects.toThrow(/TOTP secrets sealed before key ids \(v1\) by a key that is not configured/);
    await expect(refused).rejects.toThrow(/signing keys sealed before key ids/);
    // The real entry point: one message on stderr, exit 1, no stack trace.
    const started = startGatehouseProcess({ DATA_DIR: dir, KEY_ENCRYPTION_KEY: NEW, LOG_LEVEL: 'silent' });
    const failure = await started.then(
      () => new Error('started'),
      (error: unknown) => error as Error,
    );
    expect(failure.message).toContain('exited (1)');
    expect(failure.message).toContain('Stored secrets are encrypted under a key KEY_ENCRYPTION_KEY does not list');
    expect(failure.message).toContain('gatehouse keys reencrypt');
    expect(failure.message).not.toMatch(/\n\s+at /);
  });

  it('`keys reencrypt` puts every secret under the first key in batches, prints counts, is audited, and a second run changes nothing', async () => {
    await stop();
    const env = envWith([NEW, OLD]);
    const output = await gatehouseOk(['keys', 'reencrypt', '--batch-size', '1'], env);
    // first@ was v1 under OLD; second@ was already under NEW.
    expect(output).toContain(`TOTP secrets: re-encrypted 1, 2 in all now under key ${idOf(NEW)}`);
    expect(output).toMatch(/signing keys: re-encrypted [1-9]\d*, \d+ in all/);
    await withDb(env, async (db) => {
      expect(new Set(await sealedBy(db))).toEqual(new Set([`v2.${idOf(NEW)}`]));
    });
    const again = await gatehouseOk(['keys', 'reencrypt'], env);
    expect(again).toContain('TOTP secrets: re-encrypted 0, 2 in all');
    expect(again).toMatch(/signing keys: re-encrypted 0, /);
    const events = await withDb(env, (db) => db.selectFrom('audit_events').select(['type', 'details']).where('type', '=', 'admin_secrets_reencrypted').execute());
    expect(events).toHaveLength(2);
    expect(events.map((event) => event.details)).toContainEqual(expect.objectContaining({ encrypted_under: idOf(NEW), authenticators: 1, via: 'cli' }));
    expect(events.map((event) => event.details)).toContainEqual(expect.objectContaining({ encrypted_under: idOf(NEW), authenticators: 0, signing_kids: 0 }));
    expect(JSON.stringify(events)).not.toContain(NEW);
  });

  it('after the re-encryption signs in with [new, old] and with the new key alone, with the same signing keys', async () => {
    let running = await restart([NEW, OLD]);
    expect((await signInWithTotp(running, first)).codeStatus).toBe(303);
    running = await restart([NEW]);
    const result = await signInWithTotp(running, first);
    expect(result.codeStatus).toBe(303);
    expect(result.kid).toBe(signingKid);
    expect((await signInWithTotp(running, second)).codeStatus).toBe(303);
  });

  it('once the old key is dropped, a server given only the old key refuses to start and names the key id it lacks', async () => {
    await stop();
    await expect(startTestServer(envWith([OLD]), { clock })).rejects.toThrow(new RegExp(`TOTP secrets under key id ${idOf(NEW)}`));
    const result = await gatehouse(['keys', 'reencrypt'], envWith([OTHER]));
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`under key id ${idOf(NEW)}`);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });
});

if (postgresUrl) {
  describe('re-encrypting under running servers (Postgres)', () => {
    let database: { url: string; drop: () => Promise<void> };
    let server: TestServer | undefined;
    const users: TotpUser[] = [];
    const envWith = (keys: string[]) => ({ ...TEST_ENV, DATABASE_URL: database.url, KEY_ENCRYPTION_KEY: keys.join(',') });

    beforeAll(async () => {
      database = await createTestDatabase();
      const old = await startTestServer(envWith([OLD]), { clock });
      await seedBasics(old);
      for (let index = 0; index < 6; index += 1) users.push(await enrolledUser(old, `user${index}@example.com`));
      await old.close();
      server = await startTestServer(envWith([NEW, OLD]), { clock });
    });

    afterAll(async () => {
      await server?.close();
      await database?.drop();
    });

    it('TOTP sign-ins succeed while `keys reencrypt` runs one row per transaction, and after it', async () => {
      const running = server!;
      clockState.offset += 30_000;
      const [output, ...results] = await Promise.all([
        gatehouseOk(['keys', 'reencrypt', '--batch-size', '1'], envWith([NEW, OLD])),
        ...users.map((user) => signInWithTotp(running, user, undefined, false)),
      ]);
      expect(results.map((result) => result.codeStatus)).toEqual(users.map(() => 303));
      expect(output).toContain('TOTP secrets: re-encrypted 6, 6 in all');
      expect(new Set(await sealedBy(running.app.db))).toEqual(new Set([`v2.${idOf(NEW)}`]));
      for (const user of users) expect((await signInWithTotp(running, user)).codeStatus).toBe(303);
      expect(await gatehouseOk(['keys', 'reencrypt'], envWith([NEW, OLD]))).toContain('TOTP secrets: re-encrypted 0, 6 in all');
    });

    it('a server with the new key alone starts, serves the same sign-ins, and signs tokens', async () => {
      await server?.close();
      server = await startTestServer(envWith([NEW]), { clock });
      for (const user of users.slice(0, 2)) expect((await signInWithTotp(server, user)).codeStatus).toBe(303);
    });
  });
}
