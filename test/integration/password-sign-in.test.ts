import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import argon2 from 'argon2';
import { createAccount } from '../../src/accounts/create-account.ts';
import { loadConfig } from '../../src/config/load.ts';
import { createPasswordHasher } from '../../src/security/passwords.ts';
import { disableAccountByEmail, findAccountByEmail, insertAccount } from '../../src/storage/postgres/accounts.queries.ts';
import { upsertClient } from '../../src/storage/postgres/clients.queries.ts';
import { TEST_ENV, type TestServer } from '../support/app.ts';
import { databaseBackends } from '../support/backends.ts';
import { UserAgent } from '../support/browserless.ts';
import { inputs, openLoginPage, rawAuthorization, signInThroughForms, startOnBackend, submit } from '../support/forms.ts';

const REDIRECT = 'https://rp.example/cb';
const SECRET = 'web-secret-0123456789-0123456789-0123';
const PASSWORD = 'the right password';
const WRONG = 'not the password';
const REFUSED = 'Email or password is incorrect.';

/** The parts of an argon2 PHC string, parameters by name whatever their order. */
function parsePhc(hash: string) {
  const [, algorithm, version, params, salt] = hash.split('$');
  return {
    algorithm,
    version,
    params: Object.fromEntries((params ?? '').split(',').map((pair) => pair.split('='))) as Record<string, string>,
    saltBytes: Buffer.from(salt ?? '', 'base64').length,
  };
}

describe('PW-05 hash parameters (unit)', () => {
  // PW-05: a hash made at the production defaults is argon2id m=19456,t=2,p=1 with a >= 16-byte random salt.
  it('hashes with argon2id at m=19456, t=2, p=1 and a salt of at least 16 bytes', async () => {
    const hasher = await createPasswordHasher({ memoryCost: 19456, timeCost: 2, parallelism: 1 });
    const hash = await hasher.hash(PASSWORD);
    const parsed = parsePhc(hash);
    expect(parsed).toMatchObject({ algorithm: 'argon2id', version: 'v=19', params: { m: '19456', t: '2', p: '1' } });
    expect(parsed.saltBytes).toBeGreaterThanOrEqual(16);
    expect(await hasher.hash(PASSWORD)).not.toBe(hash);
  });

  // PW-05: the stored string is the standard PHC encoding `$argon2id$v=19$m=19456,t=2,p=1$...` (order m,t,p).
  it('encodes the hash as $argon2id$v=19$m=19456,t=2,p=1$...', async () => {
    // The PHC string spec fixes argon2's parameter order; libargon2's own decoder rejects any other.
    const hasher = await createPasswordHasher({ memoryCost: 19456, timeCost: 2, parallelism: 1 });
    expect(await hasher.hash(PASSWORD)).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
  });

  // PW-05: with no ARGON2_* settings the configured cost is at least the OWASP minimum.
  it('defaults the configured cost to at least m=19456, t=2, p=1', () => {
    const { argon2: cost } = loadConfig({ NODE_ENV: 'test', COOKIE_SECRETS: TEST_ENV.COOKIE_SECRETS, KEY_ENCRYPTION_KEY: TEST_ENV.KEY_ENCRYPTION_KEY, DATA_DIR: 'memory://' });
    expect(cost.memoryCost).toBeGreaterThanOrEqual(19456);
    expect(cost.timeCost).toBeGreaterThanOrEqual(2);
    expect(cost.parallelism).toBe(1);
  });
});

/** The sign-in page of a fresh authorization request by the `web` client, in a fresh user agent. */
async function freshLoginPage(server: TestServer) {
  const ua = new UserAgent();
  const auth = rawAuthorization(server.issuer, { client_id: 'web', redirect_uri: REDIRECT });
  return { ua, auth, page: await openLoginPage(ua, server.issuer, auth.url) };
}

async function addWebClient(server: TestServer): Promise<void> {
  await upsertClient(server.app.db, 'web', {
    client_id: 'web', client_secret: SECRET, redirect_uris: [REDIRECT], grant_types: ['authorization_code'], response_types: ['code'],
  });
}

describe.each(databaseBackends)('password sign-in on $name', (backend) => {
  let server: TestServer;
  let stop: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    // Configured above the cheap test cost, so a hash made at the test cost is "weaker than configured".
    ({ server, stop } = await startOnBackend(backend, { ARGON2_MEMORY_KIB: '2048', ARGON2_TIME_COST: '2' }));
    await addWebClient(server);
    const { db, hasher } = server.app;
    await createAccount(db, hasher, { email: 'known@example.com', password: PASSWORD });
    await createAccount(db, hasher, { email: 'disabled@example.com', password: PASSWORD });
    await disableAccountByEmail(db, 'disabled@example.com', new Date());
    await createAccount(db, hasher, { email: 'nopassword@example.com' });
  });

  afterAll(async () => {
    await stop?.();
  });

  // PW-05: a successful sign-in replaces a hash made with weaker parameters by one at the configured cost.
  it('rehashes a weak stored hash at the configured parameters on successful sign-in', async () => {
    const weak = await argon2.hash(PASSWORD, { type: argon2.argon2id, memoryCost: 1024, timeCost: 1, parallelism: 1 });
    expect(parsePhc(weak).params).toEqual({ m: '1024', t: '1', p: '1' });
    await insertAccount(server.app.db, { email: 'weak@example.com', name: null, password_hash: weak, disabled_at: null });
    const { ua, auth } = await freshLoginPage(server);
    const landed = await signInThroughForms(ua, server.issuer, auth.url, 'weak@example.com', PASSWORD);
    expect(landed.searchParams.get('code')).toBeTruthy();
    const stored = (await findAccountByEmail(server.app.db, 'weak@example.com'))!.password_hash!;
    // Parameters compared by name: their order in the string is the separate encoding rule above.
    expect(parsePhc(stored)).toMatchObject({ algorithm: 'argon2id', version: 'v=19', params: { m: '2048', t: '2', p: '1' } });
    expect(await argon2.verify(stored, PASSWORD)).toBe(true);
  });

  // ABU-03: unknown email, wrong password, disabled account and password-less account answer identically.
  it('answers every failed sign-in with the same status, bytes and cookie names', async () => {
    const attempts = [
      ['unknown email', 'nobody@example.com', PASSWORD],
      ['wrong password', 'known@example.com', WRONG],
      ['disabled account, right password', 'disabled@example.com', PASSWORD],
      ['account without a password', 'nopassword@example.com', PASSWORD],
    ] as const;
    const answers = [];
    for (const [label, email, password] of attempts) {
      const { ua, page } = await freshLoginPage(server);
      const response = await submit(ua, page.login, { email, password });
      // The page embeds the interaction uid, its CSRF token, the email as typed and the nonce; nothing else may differ.
      let body = await response.text();
      for (const { name, value } of inputs(body)) if (name === 'csrf' && value) body = body.replaceAll(value, '<csrf>');
      body = body.replaceAll(page.uid, '<uid>').replaceAll(email, '<email>');
      // The scripts' CSP nonce is fresh in every response (the passkey scripts carry it).
      body = body.replace(/nonce="[^"]+"/g, 'nonce="<nonce>"');
      const cookies = [...new Set(response.headers.getSetCookie().map((cookie) => cookie.split('=')[0]))].sort();
      answers.push({ label, status: response.status, contentType: response.headers.get('content-type'), cookies, body });
    }
    expect(answers[0]!.status).toBe(400);
    expect(answers[0]!.body).toContain(REFUSED);
    for (const answer of answers.slice(1)) {
      expect(answer).toEqual({ ...answers[0], label: answer.label });
    }
  });

  // Disabled-account rule (ABU-03: same message as a wrong password): the right password does not sign it in.
  it('refuses a disabled account with the right password, with the wrong-password message', async () => {
    const { ua, page } = await freshLoginPage(server);
    const response = await submit(ua, page.login, { email: 'disabled@example.com', password: PASSWORD });
    expect(response.status).toBe(400);
    expect(response.headers.get('location')).toBeNull();
    expect(await response.text()).toContain(REFUSED);
  });

  // SES-07 / disabled-account rule: disabling ends existing access tokens at userinfo (findAccount returns nothing).
  it("stops a disabled account's access token working at userinfo", async () => {
    await createAccount(server.app.db, server.app.hasher, { email: 'soon-disabled@example.com', password: PASSWORD });
    const { ua, auth } = await freshLoginPage(server);
    const landed = await signInThroughForms(ua, server.issuer, auth.url, 'soon-disabled@example.com', PASSWORD);
    const token = await fetch(`${server.issuer}/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`web:${SECRET}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: landed.searchParams.get('code')!, redirect_uri: REDIRECT, code_verifier: auth.verifier }),
    });
    expect(token.status).toBe(200);
    const { access_token: accessToken } = (await token.json()) as { access_token: string };
    const userinfo = () => fetch(`${server.issuer}/me`, { headers: { authorization: `Bearer ${accessToken}` } });

    expect((await userinfo()).status).toBe(200);
    expect(await disableAccountByEmail(server.app.db, 'soon-disabled@example.com', new Date())).toBe(1);
    const refused = await userinfo();
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as { error: string }).error).toBe('invalid_token');
  });
});

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

describe.each(databaseBackends)('decoy argon2 work on $name', (backend) => {
  const SAMPLES = 10;
  let server: TestServer;
  let stop: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    // A deliberately expensive cost, so one argon2 verify dwarfs everything else a sign-in does.
    // The sign-in limits (ABU-01/02) would turn this series from one address into 429s: out of the way here.
    const noLimits = { SIGN_IN_IP_MAX_FAILURES: '1000', SIGN_IN_PAIR_MAX_FAILURES: '1000', SIGN_IN_DELAY_AFTER_FAILURES: '1000' };
    ({ server, stop } = await startOnBackend(backend, { ARGON2_MEMORY_KIB: '65536', ARGON2_TIME_COST: '3', ...noLimits }));
    await addWebClient(server);
    // One account per wrong-password sample, so no per-account failure limit can slow that series down.
    for (let i = 0; i < SAMPLES; i += 1) {
      await createAccount(server.app.db, server.app.hasher, { email: `victim${i}@example.com`, password: PASSWORD });
    }
    await createAccount(server.app.db, server.app.hasher, { email: 'nopassword@example.com' });
  }, 120_000);

  afterAll(async () => {
    await stop?.();
  });

  // ABU-03: unknown emails and password-less accounts pay for an argon2 verify too (the decoy), not just real accounts.
  it('spends about as long on an unknown email or a password-less account as on a wrong password', async () => {
    // Coarse on purpose: a generous threshold so it never flakes; bench/enumeration.ts holds the precise ratio.
    const timed = async (email: string, password: string) => {
      const { ua, page } = await freshLoginPage(server);
      const started = performance.now();
      const response = await submit(ua, page.login, { email, password });
      await response.text();
      expect(response.status).toBe(400);
      return performance.now() - started;
    };
    await timed('warm-up@example.com', WRONG);
    const series = { wrongPassword: [] as number[], unknownEmail: [] as number[], noPassword: [] as number[] };
    for (let i = 0; i < SAMPLES; i += 1) {
      series.wrongPassword.push(await timed(`victim${i}@example.com`, WRONG));
      series.unknownEmail.push(await timed(`nobody${i}@example.com`, WRONG));
      series.noPassword.push(await timed('nopassword@example.com', WRONG));
    }
    const medians = Object.fromEntries(Object.entries(series).map(([name, times]) => [name, Math.round(median(times))]));
    console.log(`ABU-03 sign-in medians at m=65536,t=3 on ${backend.name} (ms):`, medians);
    expect(medians.unknownEmail!).toBeGreaterThanOrEqual(0.5 * medians.wrongPassword!);
    expect(medians.noPassword!).toBeGreaterThanOrEqual(0.5 * medians.wrongPassword!);
  }, 120_000);
});
