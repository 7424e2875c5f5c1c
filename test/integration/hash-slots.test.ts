import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createPasswordHasher, type PasswordHasher } from '../../src/security/passwords.ts';
import { startTestServer, type TestServer } from '../support/app.ts';
import { UserAgent } from '../support/browserless.ts';
import { REDIRECT_URI } from '../support/e2e.ts';
import { seedBasics, USER } from '../support/fixtures.ts';
import { openLoginPage, rawAuthorization, submit } from '../support/forms.ts';

/**
 * ABU-05 through the real sign-in: with one hashing slot, a sign-in whose argon2 is still running holds
 * it, and the next one waits ARGON2_QUEUE_TIMEOUT_MS, then gets 503 with Retry-After and no session,
 * while endpoints that hash nothing (discovery) keep answering. The hasher is the real one, held open
 * by a gate so the test decides when the first hash finishes.
 */
describe('hashing slots in the sign-in (ABU-05)', () => {
  let server: TestServer;
  let release: () => void = () => {};
  let holdNext = false;

  beforeAll(async () => {
    const real = await createPasswordHasher({ memoryCost: 1024, timeCost: 1, parallelism: 1 });
    const held = <T>(work: () => Promise<T>): Promise<T> => {
      if (!holdNext) return work();
      holdNext = false;
      return new Promise<void>((resolve) => (release = resolve)).then(work);
    };
    const hasher: PasswordHasher = {
      ...real,
      verify: (hash, password) => held(() => real.verify(hash, password)),
      decoyVerify: (password) => held(() => real.decoyVerify(password)),
    };
    server = await startTestServer({ DATA_DIR: 'memory://', ARGON2_MAX_CONCURRENT: '1', ARGON2_QUEUE_TIMEOUT_MS: '300' }, { hasher });
    await seedBasics(server);
  });

  afterAll(async () => {
    await server?.close();
  });

  const loginPage = async () => {
    const ua = new UserAgent();
    return { ua, ...(await openLoginPage(ua, server.issuer, rawAuthorization(server.issuer, { client_id: 'house', redirect_uri: REDIRECT_URI }).url)) };
  };

  it('the second sign-in gets 503 with Retry-After while the first holds the only slot; then all is well', async () => {
    const first = await loginPage();
    const second = await loginPage();
    holdNext = true;
    const slow = submit(first.ua, first.login, { email: USER.email, password: 'a wrong password here' });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const { ua } = second;
    const before = new Set(ua.cookies.keys());
    const refused = await ua.request(second.login.action, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({ ...second.login.hidden, email: USER.email, password: USER.password }).toString(),
    });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(await refused.json()).toMatchObject({ error: 'busy' });
    expect([...ua.cookies.keys()].filter((name) => !before.has(name) && name.includes('session'))).toEqual([]);
    // Discovery does no hashing and is not held up.
    expect((await fetch(`${server.issuer}/.well-known/openid-configuration`)).status).toBe(200);

    release();
    expect((await slow).status).toBe(400); // the wrong password, answered once its hash ran
    const again = await loginPage();
    expect((await submit(again.ua, again.login, { email: USER.email, password: USER.password })).status).toBe(303);
  });
});
