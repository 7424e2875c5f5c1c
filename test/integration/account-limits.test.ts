import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { createAccountRateLimits } from '../../src/security/rate-limits.ts';
import { hashToken, issueToken } from '../../src/security/tokens.ts';
import { insertAccountToken } from '../../src/storage/postgres/account-tokens.queries.ts';
import { findAccountByEmail } from '../../src/storage/postgres/accounts.queries.ts';
import { createRedisLimiterStore } from '../../src/storage/redis/rate-limit-store.ts';
import { startTestServer, type TestServer } from '../support/app.ts';
import { redisUrl, uniqueName } from '../support/backends.ts';
import { inputValue, UserAgent } from '../support/browserless.ts';
import { seedBasics, USER } from '../support/fixtures.ts';

const PASSPHRASE = 'correct horse battery staple';

/** Every request names its client IP (TRUST_PROXY is on), so each test owns its counters. */
let ipCounter = 0;
const freshIp = () => {
  ipCounter += 1;
  return `198.51.100.${ipCounter}`;
};

async function deleteKeys(url: string, prefix: string): Promise<string[]> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    return keys;
  } finally {
    redis.disconnect();
  }
}

interface Backend {
  name: string;
  env(): Record<string, string>;
  cleanup(): Promise<void>;
}

const embedded: Backend = { name: 'the embedded store', env: () => ({ DATA_DIR: 'memory://' }), cleanup: async () => {} };
function redisBackend(url: string): Backend {
  const prefix = `${uniqueName('gh_limits')}:`;
  return {
    name: 'Redis',
    env: () => ({ DATA_DIR: 'memory://', REDIS_URL: url, REDIS_KEY_PREFIX: prefix }),
    cleanup: async () => void (await deleteKeys(url, prefix)),
  };
}
const backends = redisUrl ? [embedded, redisBackend(redisUrl)] : [embedded];

/** ABU-02 / REC-02: per-IP and per-address limits on the account pages, counted before any other work. */
describe.each(backends)('account page limits on $name', (backend) => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ ...backend.env(), TRUST_PROXY: 'true' });
    await seedBasics(server);
  });

  afterAll(async () => {
    await server?.close();
    await backend.cleanup();
  });

  /** GETs the page for its CSRF token, then POSTs the form from `ip`. */
  async function post(path: string, fields: Record<string, string>, ip: string, options: { formPath?: string; ua?: UserAgent; accept?: string } = {}) {
    const ua = options.ua ?? new UserAgent();
    const html = await (await ua.get(`${server.issuer}${options.formPath ?? path}`, { 'x-forwarded-for': ip })).text();
    return ua.request(`${server.issuer}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': ip, ...(options.accept ? { accept: options.accept } : {}) },
      body: new URLSearchParams({ csrf: inputValue(html, 'csrf'), ...fields }).toString(),
    });
  }
  const forgot = (email: string, ip: string, accept?: string) => post('/forgot-password', { email }, ip, { accept });
  const outboxSize = async () => (await server.app.db.selectFrom('mail_outbox').select('id').execute()).length;
  /** The error page without its per-request id. */
  const withoutRequestId = (html: string) => html.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '');

  it('refuses the 4th registration of one address in the hour with 429 and Retry-After, before any work', async () => {
    const email = 'limited.register@example.com';
    // Three attempts (refused for a weak password, so nothing is created) spend the address's budget.
    for (let attempt = 0; attempt < 3; attempt += 1) {
      expect((await post('/register', { email, name: 'Limited', password: 'short' }, freshIp())).status).toBe(400);
    }
    const mails = await outboxSize();
    const refused = await post('/register', { email: ` ${email.toUpperCase()} `, name: 'Limited', password: PASSPHRASE }, freshIp());
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(3500);
    expect(Number(refused.headers.get('retry-after'))).toBeLessThanOrEqual(3600);
    expect(await refused.text()).toContain('Too many attempts');
    expect(await findAccountByEmail(server.app.db, email)).toBeUndefined();
    await new Promise((resolve) => setTimeout(resolve, 50)); // nothing runs after the response either
    expect(await outboxSize()).toBe(mails);
    // Another address is not affected.
    expect((await post('/register', { email: 'other.register@example.com', name: 'Other', password: PASSPHRASE }, freshIp())).status).toBe(200);
  });

  it('refuses the 11th registration from one IP', async () => {
    const ip = freshIp();
    for (let attempt = 0; attempt < 10; attempt += 1) {
      expect((await post('/register', { email: `per-ip-${attempt}@example.com`, name: 'X', password: 'short' }, ip)).status).toBe(400);
    }
    expect((await post('/register', { email: 'per-ip-10@example.com', name: 'X', password: PASSPHRASE }, ip)).status).toBe(429);
    expect(await findAccountByEmail(server.app.db, 'per-ip-10@example.com')).toBeUndefined();
  });

  it('refuses the 11th forgot-password from one IP, as a page or as JSON, and not from another IP', async () => {
    const ip = freshIp();
    for (let attempt = 0; attempt < 10; attempt += 1) expect((await forgot(`forgot-${attempt}@example.com`, ip)).status).toBe(200);
    const refused = await forgot('forgot-10@example.com', ip, 'application/json');
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    const body = (await refused.json()) as { error: string; error_description: string };
    expect(body.error).toBe('too_many_requests');
    expect(body.error_description).toMatch(/^Too many attempts\. Try again in \d+ minutes\.$/);
    // The limit is on that IP only.
    expect((await forgot('forgot-10@example.com', freshIp())).status).toBe(200);
  });

  it('counts the address our proxy appended, not a leftmost X-Forwarded-For entry the client wrote itself', async () => {
    const ip = freshIp();
    for (let attempt = 0; attempt < 10; attempt += 1) {
      expect((await forgot(`spoof-${attempt}@example.com`, `203.0.113.${attempt}, ${ip}`)).status).toBe(200);
    }
    expect((await forgot('spoof-10@example.com', `203.0.113.99, ${ip}`)).status).toBe(429);
  });

  it('limits an unknown address exactly like a known one (ABU-03), and resend shares the budget', async () => {
    const unknown = 'nobody-at-all@example.com';
    for (let attempt = 0; attempt < 5; attempt += 1) {
      expect((await forgot(USER.email, freshIp())).status).toBe(200);
      expect((await forgot(unknown, freshIp())).status).toBe(200);
    }
    const known = await forgot(USER.email.toUpperCase(), freshIp());
    const other = await forgot(unknown, freshIp());
    expect(known.status).toBe(429);
    expect(other.status).toBe(429);
    expect(known.headers.get('retry-after')).toBe(other.headers.get('retry-after'));
    expect(withoutRequestId(await known.text())).toBe(withoutRequestId(await other.text()));
    expect((await post('/verify-email/resend', { email: unknown }, freshIp(), { formPath: '/forgot-password' })).status).toBe(429);
  });

  it('REC-02: refuses the 21st token attempt from one IP even with a valid token; another IP still gets in', async () => {
    const account = (await findAccountByEmail(server.app.db, USER.email))!;
    const { token, hash } = issueToken();
    const now = new Date();
    await insertAccountToken(server.app.db, {
      accountId: account.id,
      purpose: 'reset_password',
      tokenHash: hash,
      email: account.email,
      createdAt: now,
      expiresAt: new Date(now.getTime() + 30 * 60_000),
    });
    const ip = freshIp();
    const ua = new UserAgent();
    const open = (path: string, value: string, from: string, agent = ua) => agent.get(`${server.issuer}${path}?token=${value}`, { 'x-forwarded-for': from });
    // Guesses on both kinds of link share one counter; the 20th opens the real link.
    for (let attempt = 0; attempt < 10; attempt += 1) expect((await open('/verify-email', `guess-${attempt}`, ip)).status).toBe(303);
    for (let attempt = 0; attempt < 9; attempt += 1) expect((await open('/reset-password', `guess-${attempt}`, ip)).status).toBe(303);
    expect((await open('/reset-password', token, ip)).status).toBe(303);

    const refused = await open('/reset-password', token, ip);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(800);
    expect(Number(refused.headers.get('retry-after'))).toBeLessThanOrEqual(900);
    // Submitting the form the 20th attempt stashed is a token attempt too: refused, nothing changed.
    const submitted = await post('/reset-password', { password: 'a brand new passphrase here' }, ip, { ua });
    expect(submitted.status).toBe(429);
    expect((await findAccountByEmail(server.app.db, USER.email))!.password_hash).toBe(account.password_hash);
    const stored = await server.app.db.selectFrom('account_tokens').select('used_at').where('token_hash', '=', hashToken(token)).executeTakeFirstOrThrow();
    expect(stored.used_at).toBeNull();

    // The same valid link from another IP works.
    const elsewhere = new UserAgent();
    const otherIp = freshIp();
    expect((await open('/reset-password', token, otherIp, elsewhere)).status).toBe(303);
    const form = await elsewhere.get(`${server.issuer}/reset-password`, { 'x-forwarded-for': otherIp });
    expect(form.status).toBe(200);
    expect(await form.text()).toContain(USER.email);
  });
});

/** The Redis store itself (what app.ts uses when REDIS_URL is set): shared counters under the key prefix. */
// Defined only when the run has a Redis (as .ci/run does): nothing here is ever skipped.
if (redisUrl) describe('Redis limiter store', () => {
  const prefix = `${uniqueName('gh_limits_store')}:`;
  let redis: Redis;

  beforeAll(() => {
    redis = new Redis(redisUrl!, { maxRetriesPerRequest: 1 });
  });

  afterAll(async () => {
    redis?.disconnect();
    await deleteKeys(redisUrl!, prefix);
  });

  it('counts per key across limiter instances (as across replicas) and refuses past the limit', async () => {
    const replicaA = createAccountRateLimits(createRedisLimiterStore(redis, prefix));
    const replicaB = createAccountRateLimits(createRedisLimiterStore(redis, prefix));
    expect((await replicaA.register('203.0.113.1', 'shared@example.com')).ok).toBe(true);
    expect((await replicaB.register('203.0.113.2', 'Shared@example.com')).ok).toBe(true);
    expect((await replicaA.register('203.0.113.3', 'shared@example.com')).ok).toBe(true);
    const refused = await replicaB.register('203.0.113.4', 'shared@example.com');
    expect(refused.ok).toBe(false);
    if (!refused.ok) expect(refused.error.retryAfterSeconds).toBeGreaterThan(3500);
    expect(await redis.keys(`${prefix}rl:register-email:*`)).toEqual([`${prefix}rl:register-email:shared@example.com`]);
  });
});
