import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startTestServer, TEST_ENV, type TestServer } from '../support/app.ts';
import { postgresUrl, redisUrl } from '../support/backends.ts';
import { Balancer } from '../support/balancer.ts';
import { UserAgent, type Transport } from '../support/browserless.ts';
import { servers, type StackEnv } from '../support/e2e.ts';
import { authorizationUrl, codeOf, open, seedBasics, submitConsent, submitLogin } from '../support/fixtures.ts';

/**
 * REL-F7: COOKIE_SECRETS rotation signs nobody out. The first secret signs, every listed one verifies,
 * and a session cookie verified under an older secret is signed again under the first one on the
 * browser's next visit, so the old secret can go once the sessions it signed have been seen or expired.
 */
const OLD = TEST_ENV.COOKIE_SECRETS;
const NEW = 'the-new-cookie-secret-0123456789-abcdefgh';
const ISSUER = 'https://id.gatehouse.test';

/** Instances behind a Balancer that a test restarts with other settings, one at a time. */
function fleet(base: () => Record<string, string>) {
  const balancer = new Balancer(ISSUER);
  const running = new Map<string, TestServer>();
  return {
    balancer,
    async start(name: string, cookieSecrets: string): Promise<TestServer> {
      const server = await startTestServer({ ...base(), ISSUER, TRUST_PROXY: 'true', COOKIE_SECRETS: cookieSecrets });
      running.set(name, server);
      balancer.add(name, server);
      return server;
    },
    async restart(name: string, cookieSecrets: string): Promise<void> {
      const server = await balancer.remove(name);
      running.delete(name);
      await server.close();
      await this.start(name, cookieSecrets);
    },
    async closeAll(): Promise<void> {
      for (const server of running.values()) await server.close();
    },
  };
}

/** A browser that has signed in to the `web` client (consent given), reaching the instances through `transport`. */
async function signedInBrowser(transport: Transport): Promise<UserAgent> {
  const ua = new UserAgent(undefined, transport);
  const login = await open(ua, ISSUER, authorizationUrl(ISSUER, 'web'));
  const afterLogin = await submitLogin(ua, ISSUER, login);
  const done = afterLogin.html.includes('/consent"') ? await submitConsent(ua, ISSUER, afterLogin) : afterLogin;
  if (!codeOf(done.url)) throw new Error(`sign-in failed at ${done.url}`);
  return ua;
}

/** Whether the browser is still signed in: a new authorization request is answered with a code, no sign-in page. */
async function stillSignedIn(ua: UserAgent): Promise<boolean> {
  return Boolean(codeOf((await open(ua, ISSUER, authorizationUrl(ISSUER, 'web'))).url));
}

describe('rotating COOKIE_SECRETS on a restarted instance (embedded store)', () => {
  let dir: string;
  const instances = fleet(() => ({ DATA_DIR: dir }));

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gatehouse-cookie-keys-'));
    await seedBasics(await instances.start('A', OLD));
  });

  afterAll(async () => {
    await instances.closeAll();
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps sessions through a prepended secret and signs them again, so dropping the old secret later signs out only browsers not seen since', async () => {
    const returning = await signedInBrowser(instances.balancer.fetch);
    const away = await signedInBrowser(instances.balancer.fetch);
    const signatureBefore = returning.cookies.get('__Host-gh_session.sig');

    await instances.restart('A', `${NEW},${OLD}`);
    expect(await stillSignedIn(returning)).toBe(true);
    expect(returning.cookies.get('__Host-gh_session.sig')).not.toBe(signatureBefore);

    await instances.restart('A', NEW);
    expect(await stillSignedIn(returning)).toBe(true);
    // The secret really is checked: a session last signed under the removed secret is no longer accepted.
    expect(await stillSignedIn(away)).toBe(false);
  });
});

/**
 * Several instances cannot all restart at once, so for a while some have the new list and some the old.
 * The rotation that signs nobody out is two rolling restarts: first append the new secret everywhere
 * (it verifies, the old one still signs), then move it to the front (it signs, the old one verifies).
 */
if (postgresUrl && redisUrl) describe('rotating COOKIE_SECRETS across instances sharing Postgres and Redis', () => {
  let stack: StackEnv;
  const instances = fleet(() => stack.env);

  beforeAll(async () => {
    stack = await servers.setup();
    await seedBasics(await instances.start('A', OLD));
    await instances.start('B', OLD);
  });

  afterAll(async () => {
    await instances.closeAll();
    await stack?.cleanup();
  });

  it('two rolling restarts (append, then move to the front) keep every browser signed in on every instance', async () => {
    const browser = await signedInBrowser(instances.balancer.fetch);
    const steps: Array<[string, string]> = [
      ['A', `${OLD},${NEW}`],
      ['B', `${OLD},${NEW}`],
      ['A', `${NEW},${OLD}`],
      ['B', `${NEW},${OLD}`],
    ];
    for (const [name, secrets] of steps) {
      await instances.restart(name, secrets);
      // Each instance in turn sees the browser (round robin), and a new sign-in crosses instances between page and POST.
      expect([await stillSignedIn(browser), await stillSignedIn(browser)]).toEqual([true, true]);
      await expect(signedInBrowser(instances.balancer.fetch)).resolves.toBeDefined();
    }
  });

  it('prepending the new secret on one instance while another has only the old one signs browsers out there', async () => {
    await instances.restart('A', OLD);
    await instances.restart('B', OLD);
    let transport = instances.balancer.fetch;
    const browser = await signedInBrowser((url, init) => transport(url, init));
    await instances.restart('A', `${NEW},${OLD}`);
    transport = instances.balancer.to('A');
    expect(await stillSignedIn(browser)).toBe(true);
    transport = instances.balancer.to('B');
    expect(await stillSignedIn(browser)).toBe(false);
  });
});
