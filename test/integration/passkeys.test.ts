import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createAccount } from '../../src/accounts/create-account.ts';
import { passkeyAuthenticationOptions, verifyPasskeyAssertion, type PasskeyUse } from '../../src/accounts/mfa/passkey-assertions.ts';
import { generateRecoveryCodes } from '../../src/accounts/mfa/recovery-codes.ts';
import { disableAccountByEmail } from '../../src/storage/postgres/accounts.queries.ts';
import { findPasskeyByCredentialId } from '../../src/storage/postgres/passkeys.queries.ts';
import { startTestServer, type TestServer } from '../support/app.ts';
import { formAction, inputValue, UserAgent } from '../support/browserless.ts';
import { REDIRECT_URI } from '../support/e2e.ts';
import { seedBasics, WEB_SECRET } from '../support/fixtures.ts';
import { openLoginPage, rawAuthorization, startOnBackend, submit, type RawAuthorization } from '../support/forms.ts';
import { databaseBackends } from '../support/backends.ts';
import { addPasskey, passkeyDeps, passkeyOptions, postPasskeyResponse, usePasskey } from '../support/passkeys.ts';

const PASSWORD = 'passkeys are a fine thing to have';

interface AtPage {
  ua: UserAgent;
  auth: RawAuthorization;
  uid: string;
  url: string;
  html: string;
}

/** Claims of the ID token a client gets for `callback` (the code exchanged with its PKCE verifier). */
async function idTokenClaims(issuer: string, callback: string, verifier: string): Promise<{ sub: string; amr?: string[]; acr?: string }> {
  const response = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`web:${WEB_SECRET}`).toString('base64')}` },
    body: new URLSearchParams({ grant_type: 'authorization_code', code: new URL(callback).searchParams.get('code')!, redirect_uri: REDIRECT_URI, code_verifier: verifier }),
  });
  const { id_token } = (await response.json()) as { id_token: string };
  return JSON.parse(Buffer.from(id_token.split('.')[1]!, 'base64url').toString()) as { sub: string; amr?: string[]; acr?: string };
}

/** Follows a finished step to the client, approving consent on the way; returns the callback URL. */
async function landAtClient(server: TestServer, at: AtPage, finished: Response): Promise<string> {
  expect(finished.status).toBe(303);
  const landed = await at.ua.follow(at.url, server.issuer, finished);
  let { url } = landed;
  if (url.startsWith(server.issuer)) {
    const consent = await landed.response.text();
    const approved = await at.ua.post(new URL(formAction(consent, '/consent'), server.issuer).href, { decision: 'approve', csrf: inputValue(consent, 'csrf') });
    ({ url } = await at.ua.follow(url, server.issuer, approved));
  }
  expect(url.startsWith(REDIRECT_URI)).toBe(true);
  return url;
}

async function signInPage(server: TestServer, ua = new UserAgent()): Promise<AtPage> {
  const auth = rawAuthorization(server.issuer, { client_id: 'web', redirect_uri: REDIRECT_URI });
  const login = await openLoginPage(ua, server.issuer, auth.url);
  return { ua, auth, uid: login.uid, url: login.url, html: login.html };
}

/** The sign-in after a correct password: the second step's page. */
async function passwordStep(server: TestServer, email: string): Promise<AtPage> {
  const at = await signInPage(server);
  const afterPassword = await submit(at.ua, { action: new URL(formAction(at.html, '/login'), server.issuer).href, hidden: { csrf: inputValue(at.html, 'csrf') } }, { email, password: PASSWORD });
  expect(afterPassword.status).toBe(303);
  const { url, response } = await at.ua.follow(at.url, server.issuer, afterPassword);
  return { ...at, url, html: await response.text() };
}

// On every database backend: the single-use challenge and the counter are atomic statements of each.
describe.each(databaseBackends)('passkeys in the sign-in ($name)', (backend) => {
  let server: TestServer;
  let stop: () => Promise<void>;
  let people = 0;

  beforeAll(async () => {
    ({ server, stop } = await startOnBackend(backend));
    await seedBasics(server);
  });

  afterAll(async () => {
    await stop?.();
  });

  async function person(options: { synced?: boolean; userVerified?: boolean; counterStep?: number } = {}) {
    people += 1;
    const email = `passkey.person${people}@example.com`;
    const account = await createAccount(server.app.db, server.app.hasher, { email, password: PASSWORD, emailVerified: true });
    const authenticator = await addPasskey(server, account, options);
    return { email, account, authenticator };
  }

  describe('as the second factor', () => {
    it('MFA-06: after the password an account with a passkey gets the second step, and resume issues nothing', async () => {
      const { email } = await person();
      const at = await passwordStep(server, email);
      expect(at.url).toBe(`${server.issuer}/interaction/${at.uid}`);
      expect(at.html).toContain(`/interaction/${at.uid}/mfa`);
      const resumed = await at.ua.follow(`${server.issuer}/auth/${at.uid}`, server.issuer);
      expect(new URL(resumed.url).searchParams.get('code')).toBeNull();
    });

    it('the second step offers a passkey, and keeps the code field for recovery codes, which still work', async () => {
      const { email, account } = await person();
      const [recoveryCode] = await generateRecoveryCodes({ db: server.app.db, hasher: server.app.hasher, now: () => new Date() }, account.id);
      const at = await passwordStep(server, email);
      // Without JavaScript the passkey form stays hidden; the code field (in <details>) takes a recovery code.
      expect(at.html).toMatch(/<form method="post" action="\/interaction\/[^"]+\/passkey\/verify" hidden/);
      expect(at.html).toContain('<summary>Use a recovery code instead</summary>');
      expect(at.html).toContain('<label for="code">Recovery code</label>');
      const accepted = await at.ua.post(new URL(formAction(at.html, '/mfa'), server.issuer).href, { code: recoveryCode!, csrf: inputValue(at.html, 'csrf') });
      const callback = await landAtClient(server, at, accepted);
      expect((await idTokenClaims(server.issuer, callback, at.auth.verifier)).amr).toEqual(['pwd', 'otp', 'mfa']);
    });

    it('the pages load the passkey scripts with this response’s CSP nonce, from our own origin', async () => {
      const { email } = await person();
      const login = await signInPage(server);
      const response = await login.ua.get(login.url);
      const nonce = /script-src 'nonce-([^']+)'/.exec(response.headers.get('content-security-policy')!)![1]!;
      const html = await response.text();
      expect(html).toContain(`<script src="/assets/webauthn.js" nonce="${nonce}" defer="defer"></script>`);
      expect(html).toContain(`<script src="/assets/passkeys.js" nonce="${nonce}" defer="defer"></script>`);
      expect(html).toMatch(/<form method="post" action="\/interaction\/[^"]+\/passkey\/verify" hidden[^>]*id="passkey-sign-in"/);
      const mfa = await passwordStep(server, email);
      expect(mfa.html).toContain('src="/assets/passkeys.js"');
    });

    it('password + a device-bound passkey: amr [pwd, hwk, mfa], acr mfa, and the counter is stored', async () => {
      const { email, authenticator, account } = await person();
      const at = await passwordStep(server, email);
      const callback = await landAtClient(server, at, await usePasskey(at.ua, server.issuer, at.uid, at.html, authenticator));
      const claims = await idTokenClaims(server.issuer, callback, at.auth.verifier);
      expect(claims.sub).toBe(account.id);
      expect(claims.amr).toEqual(['pwd', 'hwk', 'mfa']);
      expect(claims.acr).toBe('urn:gatehouse:loa:mfa');
      const row = await findPasskeyByCredentialId(server.app.db, authenticator.id);
      expect(Number(row!.counter)).toBe(authenticator.counter);
      expect(authenticator.counter).toBeGreaterThan(0);
      expect(row!.last_used_at).not.toBeNull();
      const audited = await server.app.db.selectFrom('audit_events').select(['type', 'outcome', 'details']).where('account_id', '=', account.id).execute();
      expect(audited).toEqual(expect.arrayContaining([expect.objectContaining({ type: 'mfa_verify', outcome: 'success', details: expect.objectContaining({ factor: 'passkey', amr: 'hwk' }) })]));
    });

    it('a synced passkey is a software key: amr [pwd, swk, mfa]', async () => {
      const { email, authenticator } = await person({ synced: true, counterStep: 0 });
      const at = await passwordStep(server, email);
      const callback = await landAtClient(server, at, await usePasskey(at.ua, server.issuer, at.uid, at.html, authenticator));
      expect((await idTokenClaims(server.issuer, callback, at.auth.verifier)).amr).toEqual(['pwd', 'swk', 'mfa']);
    });

    it('presence is enough after a password: a passkey without user verification works here', async () => {
      const { email, authenticator } = await person({ userVerified: false });
      const at = await passwordStep(server, email);
      await landAtClient(server, at, await usePasskey(at.ua, server.issuer, at.uid, at.html, authenticator));
    });

    it("another account's passkey is refused, counted as a failure, and does not sign anyone in", async () => {
      const victim = await person();
      const attacker = await person();
      const at = await passwordStep(server, victim.email);
      const refused = await usePasskey(at.ua, server.issuer, at.uid, at.html, attacker.authenticator);
      expect(refused.status).toBe(400);
      expect(await refused.text()).toContain('That passkey was not accepted');
      // The victim's own passkey still works in the same sign-in: the refusal was the credential's owner.
      const callback = await landAtClient(server, at, await usePasskey(at.ua, server.issuer, at.uid, at.html, victim.authenticator));
      expect((await idTokenClaims(server.issuer, callback, at.auth.verifier)).sub).toBe(victim.account.id);
    });

    it('MFA-04: failed passkeys count like wrong codes; the 5th ends the sign-in', async () => {
      const { email, authenticator } = await person();
      const stranger = await person();
      const at = await passwordStep(server, email);
      for (let attempt = 1; attempt <= 4; attempt += 1) {
        const failed = await usePasskey(at.ua, server.issuer, at.uid, at.html, stranger.authenticator);
        expect(failed.status).toBe(400);
        expect(await failed.text()).toContain('That passkey was not accepted');
      }
      const fifth = await usePasskey(at.ua, server.issuer, at.uid, at.html, stranger.authenticator);
      expect(fifth.status).toBe(400);
      expect(await fifth.text()).toContain('Too many wrong codes');
      const options = await passkeyOptions(at.ua, server.issuer, at.uid, at.html);
      expect(options.status).toBe(400);
      expect(((await options.json()) as { error: string }).error).toBe('interaction_expired');
      // Not even the account's own passkey helps now: the sign-in starts over from the password.
      expect((await postPasskeyResponse(at.ua, server.issuer, at.uid, at.html, authenticator.assert({ challenge: 'AAAA', rpId: 'localhost' }))).status).toBe(400);
    });

    it('a counter that does not rise (a cloned authenticator) is refused', async () => {
      const { email, authenticator } = await person();
      const at = await passwordStep(server, email);
      await landAtClient(server, at, await usePasskey(at.ua, server.issuer, at.uid, at.html, authenticator));
      // A copy of the key that lags one use behind: its next assertion repeats the counter the server stored.
      authenticator.counter -= 1;
      const again = await passwordStep(server, email);
      expect((await usePasskey(again.ua, server.issuer, again.uid, again.html, authenticator)).status).toBe(400);
    });

    it('the options offer only the account’s own passkeys and ask for presence, not a PIN', async () => {
      const { email, authenticator } = await person();
      await person();
      const at = await passwordStep(server, email);
      const options = (await (await passkeyOptions(at.ua, server.issuer, at.uid, at.html)).json()) as { allowCredentials: { id: string }[]; userVerification: string; rpId: string };
      expect(options.allowCredentials.map((credential) => credential.id)).toEqual([authenticator.id]);
      expect(options.userVerification).toBe('discouraged');
      expect(options.rpId).toBe(new URL(server.issuer).hostname);
    });
  });

  describe('without a password', () => {
    it('a passkey with user verification signs in alone: amr [hwk, mfa], acr mfa', async () => {
      const { authenticator, account } = await person();
      const at = await signInPage(server);
      const options = (await (await passkeyOptions(at.ua, server.issuer, at.uid, at.html)).json()) as { allowCredentials?: unknown[]; userVerification: string };
      expect(options.allowCredentials ?? []).toEqual([]);
      expect(options.userVerification).toBe('required');
      const callback = await landAtClient(server, at, await usePasskey(at.ua, server.issuer, at.uid, at.html, authenticator));
      const claims = await idTokenClaims(server.issuer, callback, at.auth.verifier);
      expect(claims.sub).toBe(account.id);
      expect(claims.amr).toEqual(['hwk', 'mfa']);
      expect(claims.acr).toBe('urn:gatehouse:loa:mfa');
    });

    it('without user verification a passkey alone does not replace the password', async () => {
      const { authenticator } = await person({ userVerified: false });
      const at = await signInPage(server);
      const refused = await usePasskey(at.ua, server.issuer, at.uid, at.html, authenticator);
      expect(refused.status).toBe(400);
      const resumed = await at.ua.follow(`${server.issuer}/auth/${at.uid}`, server.issuer);
      expect(new URL(resumed.url).searchParams.get('code')).toBeNull();
    });

    it('a disabled account cannot sign in with its passkey', async () => {
      const { email, authenticator } = await person();
      await disableAccountByEmail(server.app.db, email, new Date());
      const at = await signInPage(server);
      expect((await usePasskey(at.ua, server.issuer, at.uid, at.html, authenticator)).status).toBe(400);
    });

    it('a response made for another origin is refused', async () => {
      const { authenticator } = await person();
      authenticator.options.origin = 'https://gatehouse.example.net';
      const at = await signInPage(server);
      expect((await usePasskey(at.ua, server.issuer, at.uid, at.html, authenticator)).status).toBe(400);
    });

    it("a challenge is bound to the interaction it was issued for: another sign-in's challenge is refused", async () => {
      const { authenticator } = await person();
      const first = await signInPage(server);
      const second = await signInPage(server);
      const firstOptions = (await (await passkeyOptions(first.ua, server.issuer, first.uid, first.html)).json()) as { challenge: string; rpId: string };
      await passkeyOptions(second.ua, server.issuer, second.uid, second.html); // the second sign-in has an open challenge of its own
      const refused = await postPasskeyResponse(second.ua, server.issuer, second.uid, second.html, authenticator.assert(firstOptions));
      expect(refused.status).toBe(400);
    });

    it('both steps need the page’s CSRF token and a same-origin request', async () => {
      const at = await signInPage(server);
      const noToken = await at.ua.request(`${server.issuer}/interaction/${at.uid}/passkey/options`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: '',
      });
      expect(noToken.status).toBe(403);
      const crossSite = await at.ua.request(`${server.issuer}/interaction/${at.uid}/passkey/verify`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example', accept: 'application/json' },
        body: new URLSearchParams({ csrf: inputValue(at.html, 'csrf'), response: '{}' }).toString(),
      });
      expect(crossSite.status).toBe(403);
      expect(((await crossSite.json()) as { error: string }).error).toBe('cross_site_request');
    });
  });

  describe('challenges', () => {
    it('a challenge works once: the same response, or a second assertion over it, is refused', async () => {
      // A synced passkey that does not count, so only the challenge can refuse the replay.
      const { authenticator } = await person({ synced: true, counterStep: 0 });
      const use: PasskeyUse = { kind: 'passwordless', interactionUid: 'challenge-once' };
      const deps = passkeyDeps(server);
      const options = (await passkeyAuthenticationOptions(deps, use))!;
      const response = JSON.stringify(authenticator.assert(options));
      expect((await verifyPasskeyAssertion(deps, use, response)).ok).toBe(true);
      expect((await verifyPasskeyAssertion(deps, use, response)).ok).toBe(false);
      expect((await verifyPasskeyAssertion(deps, use, JSON.stringify(authenticator.assert(options)))).ok).toBe(false);
    });

    it('two racing uses of one challenge: exactly one passes', async () => {
      const { authenticator } = await person({ synced: true, counterStep: 0 });
      const use: PasskeyUse = { kind: 'passwordless', interactionUid: 'challenge-race' };
      const deps = passkeyDeps(server);
      const options = (await passkeyAuthenticationOptions(deps, use))!;
      const response = JSON.stringify(authenticator.assert(options));
      const outcomes = await Promise.all([verifyPasskeyAssertion(deps, use, response), verifyPasskeyAssertion(deps, use, response)]);
      expect(outcomes.map((outcome) => outcome.ok).sort()).toEqual([false, true]);
    });

    it('the counter is raised atomically: two assertions with the same counter, racing, pass once', async () => {
      const { authenticator } = await person();
      const deps = passkeyDeps(server);
      const uses: PasskeyUse[] = [1, 2].map((n) => ({ kind: 'passwordless', interactionUid: `counter-race-${n}` }));
      const responses: string[] = [];
      for (const use of uses) {
        const options = (await passkeyAuthenticationOptions(deps, use))!;
        responses.push(JSON.stringify(authenticator.assert(options)));
        authenticator.counter -= 1; // the copy: the second assertion carries the same counter
      }
      const outcomes = await Promise.all(uses.map((use, index) => verifyPasskeyAssertion(deps, use, responses[index]!)));
      expect(outcomes.map((outcome) => outcome.ok).sort()).toEqual([false, true]);
    });

    it('an expired challenge is refused', async () => {
      const { authenticator } = await person();
      const use: PasskeyUse = { kind: 'passwordless', interactionUid: 'challenge-expired' };
      let now = Date.now();
      const deps = passkeyDeps(server, () => now);
      const options = (await passkeyAuthenticationOptions(deps, use))!;
      now += 10 * 60_000;
      expect((await verifyPasskeyAssertion(deps, use, JSON.stringify(authenticator.assert(options)))).ok).toBe(false);
    });

    it('a second-factor challenge is bound to the account that passed the password', async () => {
      const { account, authenticator } = await person();
      const other = await person();
      const deps = passkeyDeps(server);
      const issuedFor: PasskeyUse = { kind: 'second-factor', interactionUid: 'bound', accountId: other.account.id };
      const options = (await passkeyAuthenticationOptions(deps, issuedFor))!;
      const usedFor: PasskeyUse = { kind: 'second-factor', interactionUid: 'bound', accountId: account.id };
      expect((await verifyPasskeyAssertion(deps, usedFor, JSON.stringify(authenticator.assert(options)))).ok).toBe(false);
    });
  });
});

describe('the passkey scripts', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ DATA_DIR: 'memory://' });
  });

  afterAll(async () => {
    await server?.close();
  });

  it('are served from our own origin: @simplewebauthn/browser’s bundle and ours', async () => {
    const library = await fetch(`${server.issuer}/assets/webauthn.js`);
    expect(library.status).toBe(200);
    expect(library.headers.get('content-type')).toMatch(/javascript/);
    expect(await library.text()).toContain('SimpleWebAuthnBrowser');
    const ours = await fetch(`${server.issuer}/assets/passkeys.js`);
    expect(ours.headers.get('content-type')).toMatch(/javascript/);
    expect(await ours.text()).toContain('data-passkey-options');
  });
});

describe('passkeys when unverified addresses may not sign in', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ DATA_DIR: 'memory://', ALLOW_UNVERIFIED_SIGN_IN: 'false' });
    await seedBasics(server);
  });

  afterAll(async () => {
    await server?.close();
  });

  it('an unverified account is told to confirm its address, and nothing is issued', async () => {
    const account = await createAccount(server.app.db, server.app.hasher, { email: 'not.yet@example.com', password: PASSWORD, emailVerified: false });
    const authenticator = await addPasskey(server, account);
    const at = await signInPage(server);
    const refused = await usePasskey(at.ua, server.issuer, at.uid, at.html, authenticator);
    expect(refused.status).toBe(403);
    expect(await refused.text()).toContain('Confirm your email address first');
    const resumed = await at.ua.follow(`${server.issuer}/auth/${at.uid}`, server.issuer);
    expect(new URL(resumed.url).searchParams.get('code')).toBeNull();
  });

  it('a verified account signs in', async () => {
    const account = await createAccount(server.app.db, server.app.hasher, { email: 'confirmed@example.com', password: PASSWORD, emailVerified: true });
    const authenticator = await addPasskey(server, account);
    const at = await signInPage(server);
    await landAtClient(server, at, await usePasskey(at.ua, server.issuer, at.uid, at.html, authenticator));
  });
});
