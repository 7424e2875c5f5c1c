import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { unlockUser } from '../../src/admin/user-access.ts';
import { createAccount } from '../../src/accounts/create-account.ts';
import { loadConfig } from '../../src/config/load.ts';
import { createPasswordHasher, type PasswordHasher } from '../../src/security/passwords.ts';
import { RateLimitUnavailableError } from '../../src/security/rate-limits.ts';
import { createSignInLimits } from '../../src/security/sign-in-limits.ts';
import { issueToken } from '../../src/security/tokens.ts';
import { insertAccountToken } from '../../src/storage/postgres/account-tokens.queries.ts';
import { findAccountByEmail, insertAccount } from '../../src/storage/postgres/accounts.queries.ts';
import { upsertClient } from '../../src/storage/postgres/clients.queries.ts';
import { openDatabase } from '../../src/storage/postgres/db.ts';
import { createRedisClient } from '../../src/storage/redis/client.ts';
import { createRedisLimiterStore } from '../../src/storage/redis/rate-limit-store.ts';
import { fillForm } from '../support/accounts.ts';
import { startTestServer, TEST_ENV, type TestServer } from '../support/app.ts';
import { listAuditTrail } from '../../src/admin/audit.ts';
import { formatAuditEvent } from '../../src/cli/audit-commands.ts';
import { createTestDatabase, postgresUrl, redisUrl, uniqueName } from '../support/backends.ts';
import { UserAgent } from '../support/browserless.ts';
import { REDIRECT_URI } from '../support/e2e.ts';
import { seedBasics, USER } from '../support/fixtures.ts';
import { openLoginPage, rawAuthorization, type LoginPage } from '../support/forms.ts';

/**
 * The sign-in limits of issue 7 over real HTTP: ABU-01 (per-account delay and lock), ABU-02 (per IP, per
 * (account, IP), per (client, IP) at /token), ABU-03 (the limits reveal no accounts), ABU-04 (fail closed).
 * Every request names its client IP with X-Forwarded-For (TRUST_PROXY on); time moves with an injected
 * clock, never a sleep. argon2 verifications are counted per hash by wrapping the real hasher.
 */

const PASSWORD = 'the owner knows this long password';
const SVC_SECRET = 'svc-secret-0123456789-0123456789-0123';
const MINUTE = 60;

interface Backend {
  name: string;
  setup(): Promise<{ env: Record<string, string>; cleanup: () => Promise<void> }>;
}

async function deleteKeys(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
}

/** The three places counters can live: memory (embedded), Redis, and the rate_limits table (Postgres without Redis). */
const backends: Backend[] = [
  { name: 'the embedded store (counters in memory)', setup: async () => ({ env: { DATA_DIR: 'memory://' }, cleanup: async () => {} }) },
];
if (redisUrl) {
  backends.push({
    name: 'Redis',
    async setup() {
      const prefix = `${uniqueName('gh_signin')}:`;
      return { env: { DATA_DIR: 'memory://', REDIS_URL: redisUrl!, REDIS_KEY_PREFIX: prefix }, cleanup: () => deleteKeys(redisUrl!, prefix) };
    },
  });
}
if (postgresUrl) {
  backends.push({
    name: 'Postgres (counters in rate_limits)',
    async setup() {
      const { url, drop } = await createTestDatabase();
      return { env: { DATABASE_URL: url }, cleanup: drop };
    },
  });
}

/** A real argon2 hasher that counts verify() calls per stored hash; the decoy is not counted. */
async function countingHasher(): Promise<{ hasher: PasswordHasher; verifications: (hash: string) => number }> {
  const real = await createPasswordHasher({ memoryCost: 1024, timeCost: 1, parallelism: 1 });
  const counts = new Map<string, number>();
  return {
    hasher: { ...real, verify: (hash, password) => (counts.set(hash, (counts.get(hash) ?? 0) + 1), real.verify(hash, password)) },
    verifications: (hash) => counts.get(hash) ?? 0,
  };
}

/** A server on `backend` with an injected clock that `advance` moves, and verifications counted. */
async function limitedServer(backend: Backend, env: Record<string, string> = {}) {
  const made = await backend.setup();
  let offset = 0;
  const counting = await countingHasher();
  const server = await startTestServer({ ...made.env, TRUST_PROXY: 'true', ...env }, { clock: () => Date.now() + offset, hasher: counting.hasher });
  await seedBasics(server);
  return {
    server,
    verifications: counting.verifications,
    advance: (seconds: number) => void (offset += seconds * 1000),
    now: () => new Date(Date.now() + offset),
    async stop() {
      await server.close();
      await made.cleanup();
    },
  };
}

/** The sign-in page of one authorization request; one interaction takes any number of attempts. */
async function loginPage(server: TestServer): Promise<{ ua: UserAgent; page: LoginPage }> {
  const ua = new UserAgent();
  const page = await openLoginPage(ua, server.issuer, rawAuthorization(server.issuer, { client_id: 'web', redirect_uri: REDIRECT_URI }).url);
  return { ua, page };
}

function attempt(login: { ua: UserAgent; page: LoginPage }, email: string, password: string, ip: string, accept = 'text/html'): Promise<Response> {
  return login.ua.request(login.page.login.action, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': ip, accept },
    body: new URLSearchParams({ ...login.page.login.hidden, email, password }).toString(),
  });
}

/** A page without what differs per request or per interaction. */
const normalised = (html: string, page: LoginPage, email: string) =>
  html
    .replaceAll(page.uid, '<uid>')
    .replaceAll(email, '<email>')
    .replace(/name="csrf" value="[^"]*"/g, 'name="csrf" value=""')
    .replace(/nonce="[^"]*"/g, 'nonce=""')
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<request-id>');

let ipCounter = 0;
/** An address that has never been used in this file. */
const freshIp = () => {
  ipCounter += 1;
  return `10.9.${Math.floor(ipCounter / 250)}.${(ipCounter % 250) + 1}`;
};

async function stateOf(server: TestServer, email: string) {
  const row = (await findAccountByEmail(server.app.db, email))!;
  return { id: row.id, hash: row.password_hash!, failures: row.failed_sign_ins, delayUntil: row.sign_in_delay_until, lockedAt: row.locked_at };
}

describe.each(backends)('sign-in limits on $name, default limits', (backend) => {
  let t: Awaited<ReturnType<typeof limitedServer>>;

  beforeAll(async () => {
    t = await limitedServer(backend);
    await upsertClient(t.server.app.db, 'svc', {
      client_id: 'svc', client_secret: SVC_SECRET, grant_types: ['client_credentials'], response_types: [], redirect_uris: [], token_endpoint_auth_method: 'client_secret_basic',
    });
  }, 60_000);

  afterAll(async () => {
    await t?.stop();
  });

  // Issue 7 "Done when", ABU-01: the attack script.
  it('1,000 guesses at one account from 50 addresses verify its hash 100 times at most, and lock it at the 100th failure', async () => {
    const { server } = t;
    await createAccount(server.app.db, server.app.hasher, { email: 'victim@example.com', password: PASSWORD, emailVerified: true });
    const victim = await stateOf(server, 'victim@example.com');
    const login = await loginPage(server);
    const addresses = Array.from({ length: 50 }, (_, i) => `203.0.113.${i + 1}`);
    const statuses: Record<number, number> = {};
    let verificationsWhenLocked: number | undefined;
    for (let i = 0; i < 1000; i += 1) {
      // A patient attacker outwaits every account delay (15 min at most): the most guesses the limits allow.
      t.advance(15 * MINUTE);
      const response = await attempt(login, 'victim@example.com', `guess number ${i}`, addresses[i % 50]!);
      await response.arrayBuffer();
      statuses[response.status] = (statuses[response.status] ?? 0) + 1;
      if (response.status === 429) expect(Number(response.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      else expect(response.status).toBe(400);
      if (verificationsWhenLocked === undefined && (await stateOf(server, 'victim@example.com')).lockedAt !== null) {
        verificationsWhenLocked = t.verifications(victim.hash);
      }
    }
    expect(t.verifications(victim.hash)).toBeLessThanOrEqual(100);
    // Locked exactly when the 100th consecutive failure happened, not before.
    expect(verificationsWhenLocked).toBe(100);
    expect(statuses[429]).toBeGreaterThan(0);

    // The owner is told once; the trail holds the lock and every refusal with its address, and no guess.
    const mails = await server.app.db.selectFrom('mail_outbox').select('subject').where('recipient', '=', 'victim@example.com').execute();
    expect(mails.map((mail) => mail.subject)).toEqual(['Password sign-in to your account is locked']);
    const events = await server.app.db.selectFrom('audit_events').select(['type', 'outcome', 'ip', 'details', 'account_id']).where('ip', 'in', addresses).execute();
    expect(events.filter((event) => event.type === 'account_locked')).toEqual([expect.objectContaining({ account_id: victim.id, ip: expect.any(String) })]);
    expect(events.filter((event) => event.type === 'sign_in' && event.details.reason === 'wrong_password')).toHaveLength(100);
    expect(events.filter((event) => event.type === 'sign_in' && event.details.reason === 'rate_limited')).toHaveLength(statuses[429]!);
    expect(JSON.stringify(events)).not.toContain('guess number');
    // What `gatehouse audit list --type sign_in` prints: every refusal of the attack, each with its address
    // (the CLI's own query and line format, run here on the server's database). Refusals by the per-IP and
    // per-pair limits come before the account is looked up, so they name no account.
    const printed = (await listAuditTrail(server.app.db, { type: 'sign_in', limit: 10_000 })).map(formatAuditEvent);
    const attackLines = printed.filter((line) => / failure /.test(line) && addresses.some((address) => line.includes(`  ${address}  `)));
    expect(attackLines).toHaveLength(1000); // one line per guess: wrong password, rate limited, or locked
    expect(attackLines.filter((line) => line.includes('victim@example.com')).length).toBeGreaterThanOrEqual(100);
    expect(printed.join('\n')).not.toContain('guess number');
  }, 300_000);

  it('lets the owner, from an address that never failed, sign in during the attack once the current delay has passed', async () => {
    const { server } = t;
    await createAccount(server.app.db, server.app.hasher, { email: 'owner@example.com', password: PASSWORD, emailVerified: true });
    const attacker = await loginPage(server);
    for (let i = 0; i < 60; i += 1) {
      t.advance(15 * MINUTE);
      expect((await attempt(attacker, 'owner@example.com', `guess ${i}`, `198.51.100.${(i % 50) + 1}`)).status).toBe(400);
    }
    expect(await stateOf(server, 'owner@example.com')).toMatchObject({ failures: 60, lockedAt: null });

    // The account's delay is the one thing the attacker makes the owner pay: at most 15 minutes.
    const owner = await loginPage(server);
    const ownerIp = freshIp();
    const waited = await attempt(owner, 'owner@example.com', PASSWORD, ownerIp);
    expect(waited.status).toBe(429);
    const retryAfter = Number(waited.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(15 * MINUTE);
    t.advance(retryAfter);
    expect((await attempt(owner, 'owner@example.com', PASSWORD, ownerIp)).status).toBe(303);
    // Success resets the account: the attacker starts again from nothing, not from 60.
    expect(await stateOf(server, 'owner@example.com')).toMatchObject({ failures: 0, delayUntil: null, lockedAt: null });
  });

  it('counts before argon2: 30 parallel guesses at one account verify its hash only until the delay starts', async () => {
    const { server } = t;
    await createAccount(server.app.db, server.app.hasher, { email: 'parallel@example.com', password: PASSWORD });
    const { hash } = await stateOf(server, 'parallel@example.com');
    const login = await loginPage(server);
    const responses = await Promise.all(Array.from({ length: 30 }, (_, i) => attempt(login, 'parallel@example.com', `parallel ${i}`, freshIp())));
    const statuses = responses.map((response) => response.status).sort();
    // The 5th attempt starts the delay in the same statement that counts it; the other 25 never reach argon2.
    expect(t.verifications(hash)).toBe(5);
    expect(statuses).toEqual([...Array(5).fill(400), ...Array(25).fill(429)]);
  });

  it('ABU-03: 30 parallel guesses at an address no account has are answered exactly like those at a known account', async () => {
    const { server } = t;
    const login = await loginPage(server);
    const responses = await Promise.all(Array.from({ length: 30 }, (_, i) => attempt(login, 'parallel-nobody@example.com', `parallel ${i}`, freshIp())));
    const statuses = responses.map((response) => response.status).sort();
    // The same 5 admitted and 25 refused as the known account above: a burst cannot tell them apart.
    expect(statuses).toEqual([...Array(5).fill(400), ...Array(25).fill(429)]);
  });

  it('ABU-02: stops a password spray over 200 accounts from one address at the per-IP limit', async () => {
    const { server } = t;
    const hash = await server.app.hasher.hash('the password of every sprayed account');
    for (let i = 0; i < 200; i += 1) {
      await insertAccount(server.app.db, { email: `spray-${i}@example.com`, name: null, password_hash: hash, disabled_at: null });
    }
    const login = await loginPage(server);
    const ip = freshIp();
    const statuses: number[] = [];
    for (let i = 0; i < 200; i += 1) {
      const response = await attempt(login, `spray-${i}@example.com`, 'Winter2026!Winter2026!', ip);
      await response.arrayBuffer();
      statuses.push(response.status);
      if (response.status === 429) {
        expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
        expect(Number(response.headers.get('retry-after'))).toBeLessThanOrEqual(10 * MINUTE);
      }
    }
    expect(statuses.slice(0, 20)).toEqual(Array(20).fill(400));
    expect(statuses.slice(20)).toEqual(Array(180).fill(429));
    expect(t.verifications(hash)).toBe(20);
    // Another address signs in as usual.
    expect((await attempt(await loginPage(server), USER.email, USER.password, freshIp())).status).toBe(303);
  });

  it('ABU-03: unknown addresses spend the per-IP and per-pair budgets exactly like known ones', async () => {
    const { server } = t;
    // Twenty unknown addresses use up an IP; a known account with its right password is then refused too.
    const sprayer = freshIp();
    const login = await loginPage(server);
    for (let i = 0; i < 20; i += 1) expect((await attempt(login, `nobody-${i}@example.com`, 'guess', sprayer)).status).toBe(400);
    expect((await attempt(login, USER.email, USER.password, sprayer)).status).toBe(429);

    // The pair: five failures, then the sixth is refused with the same answer for a known and an unknown address.
    await createAccount(server.app.db, server.app.hasher, { email: 'pair@example.com', password: PASSWORD });
    const answers = [];
    for (const email of ['pair@example.com', 'pair-nobody@example.com']) {
      const ip = freshIp();
      for (let i = 0; i < 5; i += 1) expect((await attempt(login, email, `guess ${i}`, ip)).status).toBe(400);
      const refused = await attempt(login, email, `guess 5`, ip);
      answers.push({ status: refused.status, retryAfter: refused.headers.get('retry-after'), body: normalised(await refused.text(), login.page, email) });
    }
    expect(answers[0]!.status).toBe(429);
    expect(Number(answers[0]!.retryAfter)).toBeGreaterThan(14 * MINUTE);
    expect(answers[1]).toEqual(answers[0]);
  });

  it('ABU-02: blocks a (client, IP) after 10 failed client authentications at /token with an OAuth 429; the client elsewhere works', async () => {
    const { server } = t;
    const token = (ip: string, init: { basic?: string; form?: Record<string, string> }) =>
      fetch(`${server.issuer}/token`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'x-forwarded-for': ip,
          ...(init.basic ? { authorization: `Basic ${Buffer.from(init.basic).toString('base64')}` } : {}),
        },
        body: new URLSearchParams({ grant_type: 'client_credentials', ...init.form }).toString(),
      });
    const guesser = freshIp();
    // Wrong secrets in the Basic header and in the body count for the same client.
    for (let i = 0; i < 5; i += 1) expect((await token(guesser, { basic: `svc:wrong-${i}` })).status).toBe(401);
    for (let i = 0; i < 4; i += 1) expect((await token(guesser, { form: { client_id: 'svc', client_secret: `wrong-${i}` } })).status).toBe(401);
    // A chunked body (no Content-Length) is read to its end and still reaches oidc-provider whole.
    const chunked = await fetch(`${server.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': guesser },
      body: new ReadableStream({
        start(controller) {
          controller.enqueue(new TextEncoder().encode('grant_type=client_credentials&client_id=svc'));
          controller.enqueue(new TextEncoder().encode('&client_secret=wrong-chunked'));
          controller.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    expect(chunked.status).toBe(401);
    const refused = await token(guesser, { basic: `svc:wrong-again` });
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(14 * MINUTE);
    expect(refused.headers.get('cache-control')).toBe('no-store');
    expect(await refused.json()).toEqual({ error: 'too_many_requests', error_description: expect.stringMatching(/^Too many attempts/) });
    // Refused before authentication: even the right secret, from that address.
    expect((await token(guesser, { basic: `svc:${SVC_SECRET}` })).status).toBe(429);
    // The real client from its own address is not affected.
    const served = await token(freshIp(), { basic: `svc:${SVC_SECRET}` });
    expect(served.status).toBe(200);
    expect(((await served.json()) as { access_token?: string }).access_token).toBeTruthy();
    // A body over oidc-provider's limit is refused by oidc-provider as usual, not left hanging.
    const huge = await token(freshIp(), { form: { client_id: 'svc', padding: 'x'.repeat(60 * 1024) } });
    expect(huge.status).toBe(400);
    // An unknown client id is counted like a known one.
    const prober = freshIp();
    for (let i = 0; i < 10; i += 1) expect((await token(prober, { basic: `nope:wrong-${i}` })).status).toBe(401);
    expect((await token(prober, { basic: 'nope:wrong' })).status).toBe(429);
  });
});

describe.each(backends)('sign-in limits on $name, low limits', (backend) => {
  let t: Awaited<ReturnType<typeof limitedServer>>;

  beforeAll(async () => {
    t = await limitedServer(backend, {
      SIGN_IN_DELAY_AFTER_FAILURES: '3',
      SIGN_IN_DELAY_INITIAL_SECONDS: '60',
      SIGN_IN_DELAY_MAX_SECONDS: '240',
      SIGN_IN_LOCK_AFTER_FAILURES: '6',
    });
  }, 60_000);

  afterAll(async () => {
    await t?.stop();
  });

  // ABU-01 row: failures N..N+k answer 429 with Retry-After; failure 100 (here 6) disables the password; a reset re-enables it.
  it('ABU-01: delays from the 3rd failure (60 s doubling), locks at the 6th, the right password then fails like a wrong one; a reset unlocks', async () => {
    const { server } = t;
    const email = 'progress@example.com';
    await createAccount(server.app.db, server.app.hasher, { email, password: PASSWORD, emailVerified: true });
    const { id, hash } = await stateOf(server, email);
    const login = await loginPage(server);
    const guess = (i: number) => attempt(login, email, `guess ${i}`, freshIp());
    for (let i = 1; i <= 3; i += 1) expect((await guess(i)).status).toBe(400);
    const waits: number[] = [];
    for (let i = 4; i <= 6; i += 1) {
      const refused = await guess(i);
      expect(refused.status).toBe(429);
      waits.push(Number(refused.headers.get('retry-after')));
      t.advance(waits.at(-1)!);
      expect((await guess(i)).status).toBe(400);
    }
    expect(waits).toEqual([60, 120, 240]);
    expect(t.verifications(hash)).toBe(6);
    const locked = await stateOf(server, email);
    expect(locked.lockedAt).not.toBeNull();

    // Locked: the right password gets the wrong password's page, and the hash is not even tried.
    t.advance(240);
    const right = await attempt(login, email, PASSWORD, freshIp());
    t.advance(240);
    const wrong = await attempt(login, email, 'another guess', freshIp());
    expect(right.status).toBe(400);
    expect(normalised(await right.text(), login.page, email)).toBe(normalised(await wrong.text(), login.page, email));
    expect(t.verifications(hash)).toBe(6);
    const locks = await server.app.db.selectFrom('audit_events').select(['type', 'details']).where('account_id', '=', id).where('type', '=', 'account_locked').execute();
    expect(locks).toHaveLength(1);

    // A password reset (the mailed link) lifts the lock; the new password works at once.
    const { token, hash: tokenHash } = issueToken();
    await insertAccountToken(server.app.db, { accountId: id, purpose: 'reset_password', tokenHash, email, createdAt: t.now(), expiresAt: new Date(t.now().getTime() + 30 * 60_000) });
    const browser = new UserAgent();
    expect((await browser.get(`${server.issuer}/reset-password?token=${token}`)).status).toBe(303);
    const reset = await fillForm(browser, server.issuer, '/reset-password', { password: 'a brand new passphrase for me' });
    expect(await reset.text()).toContain('Your password has been changed');
    expect(await stateOf(server, email)).toMatchObject({ failures: 0, delayUntil: null, lockedAt: null });
    const unlocked = await server.app.db.selectFrom('audit_events').select('details').where('account_id', '=', id).where('type', '=', 'account_unlocked').execute();
    expect(unlocked).toEqual([{ details: { via: 'password_reset' } }]);
    expect((await attempt(await loginPage(server), email, 'a brand new passphrase for me', freshIp())).status).toBe(303);
  });

  it('ABU-01: an operator unlock (what `gatehouse user unlock` runs) lets the right password in again', async () => {
    const { server } = t;
    const email = 'operator-unlock@example.com';
    await createAccount(server.app.db, server.app.hasher, { email, password: PASSWORD });
    const login = await loginPage(server);
    for (let i = 0; i < 6; i += 1) {
      t.advance(240);
      expect((await attempt(login, email, `guess ${i}`, freshIp())).status).toBe(400);
    }
    t.advance(240);
    expect((await attempt(login, email, PASSWORD, freshIp())).status).toBe(400);
    expect((await unlockUser(server.app.db, email.toUpperCase())).wasLocked).toBe(true);
    expect((await attempt(login, email, PASSWORD, freshIp())).status).toBe(303);
  });

  it('ABU-03: an unknown address gets the account delay at the same attempt and with the same answer as a known one', async () => {
    const { server } = t;
    await createAccount(server.app.db, server.app.hasher, { email: 'delay@example.com', password: PASSWORD });
    const login = await loginPage(server);
    const answers = [];
    for (const email of ['delay@example.com', 'delay-nobody@example.com']) {
      const statuses = [];
      for (let i = 0; i < 3; i += 1) statuses.push((await attempt(login, email, `guess ${i}`, freshIp())).status);
      const refused = await attempt(login, email, 'guess 3', freshIp(), 'application/json');
      const body = (await refused.json()) as Record<string, string>;
      answers.push({ statuses, status: refused.status, retryAfter: refused.headers.get('retry-after'), error: body.error, description: body.error_description });
    }
    expect(answers[0]).toEqual({ statuses: [400, 400, 400], status: 429, retryAfter: '60', error: 'too_many_requests', description: 'Too many attempts. Try again in 1 minutes.' });
    expect(answers[1]).toEqual(answers[0]);
  });
});

/** ABU-04: a limiter store that errors refuses the sign-in (503) before any password work; nothing is let through. */
describe('sign-in limits fail closed', () => {
  it('refuses with RateLimitUnavailableError when Redis is configured but nothing listens', async () => {
    const handle = await openDatabase({ kind: 'embedded', dataDir: 'memory://' });
    const redis = createRedisClient('redis://127.0.0.1:1');
    redis.on('error', () => {}); // connection refused, expected
    try {
      const config = loadConfig({ ...TEST_ENV, DATA_DIR: 'memory://' });
      const limits = createSignInLimits({
        store: createRedisLimiterStore(redis, 'unreachable:'),
        db: handle.db,
        limits: config.limits.signIn,
        now: () => new Date(),
        lockMail: { mail: { queue: async () => {} }, locale: 'en', resetUrl: 'http://127.0.0.1/forgot-password' },
      });
      const started = Date.now();
      await expect(limits.admit('192.0.2.1', USER.email)).rejects.toBeInstanceOf(RateLimitUnavailableError);
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      redis.disconnect();
      await handle.close();
    }
  });

  // With Redis up, a limiter key Redis cannot count (a wrong type: the store's own error) stands in for
  // an outage that leaves the session store working; CLIENT PAUSE would stall every other test file's Redis.
  if (redisUrl) describe('over HTTP with Redis', () => {
    let t: Awaited<ReturnType<typeof limitedServer>>;
    let redis: Redis;
    let prefix: string;

    beforeAll(async () => {
      prefix = `${uniqueName('gh_signin_down')}:`;
      t = await limitedServer({ name: 'Redis', setup: async () => ({ env: { DATA_DIR: 'memory://', REDIS_URL: redisUrl!, REDIS_KEY_PREFIX: prefix }, cleanup: () => deleteKeys(redisUrl!, prefix) }) });
      redis = new Redis(redisUrl!, { maxRetriesPerRequest: 1 });
    }, 60_000);

    afterAll(async () => {
      redis?.disconnect();
      await t?.stop();
    });

    it('answers 503 without a session or an argon2 verify when the store errors, then works again', async () => {
      const { server } = t;
      const ip = freshIp();
      await redis.hset(`${prefix}rl:sign-in-ip:${ip}`, 'not', 'a counter');
      const { hash } = await stateOf(server, USER.email);
      const login = await loginPage(server);
      const cookies = new Set(login.ua.cookies.keys());
      const refused = await attempt(login, USER.email, USER.password, ip);
      expect(refused.status).toBe(503);
      expect(await refused.text()).not.toMatch(/WRONGTYPE|\n\s+at /);
      expect([...login.ua.cookies.keys()].filter((name) => !cookies.has(name))).toEqual([]);
      expect(t.verifications(hash)).toBe(0);
      expect(await stateOf(server, USER.email)).toMatchObject({ failures: 0 });

      await redis.del(`${prefix}rl:sign-in-ip:${ip}`);
      expect((await attempt(login, USER.email, USER.password, ip)).status).toBe(303);
    });

    it('answers 503 temporarily_unavailable at /token when the client-authentication counter errors', async () => {
      const { server } = t;
      await upsertClient(server.app.db, 'svc', { client_id: 'svc', client_secret: SVC_SECRET, grant_types: ['client_credentials'], response_types: [], redirect_uris: [] });
      const keys = await redis.keys(`${prefix}rl:*`);
      const ip = freshIp();
      const response = async () =>
        fetch(`${server.issuer}/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': ip, authorization: `Basic ${Buffer.from(`svc:${SVC_SECRET}`).toString('base64')}` },
          body: 'grant_type=client_credentials',
        });
      expect((await response()).status).toBe(200);
      // A failure is needed for the counter to exist; then make it uncountable.
      await fetch(`${server.issuer}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': ip, authorization: `Basic ${Buffer.from('svc:wrong').toString('base64')}` },
        body: 'grant_type=client_credentials',
      });
      const [counter] = (await redis.keys(`${prefix}rl:client-auth:*`)).filter((key) => !keys.includes(key));
      await redis.del(counter!);
      await redis.hset(counter!, 'not', 'a counter');
      const refused = await response();
      expect(refused.status).toBe(503);
      expect(await refused.json()).toEqual({ error: 'temporarily_unavailable', error_description: expect.any(String) });
    });
  });
});
