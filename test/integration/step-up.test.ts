import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import * as oidc from 'openid-client';
import { generate } from 'otplib';
import { createAccount } from '../../src/accounts/create-account.ts';
import { confirmTotpEnrolment, startTotpEnrolment } from '../../src/accounts/mfa/totp.ts';
import { ACR } from '../../src/oidc/acr.ts';
import { upsertClient } from '../../src/storage/postgres/clients.queries.ts';
import { startTestServer, type TestServer } from '../support/app.ts';
import { formAction, inputValue, UserAgent } from '../support/browserless.ts';
import { buildAuthorization, REDIRECT_URI, type Authorization } from '../support/e2e.ts';
import { seedBasics, USER, WEB_SECRET } from '../support/fixtures.ts';
import { signInThroughForms } from '../support/forms.ts';

const PASSWORD = 'a second step for the important things';
const MINUTE = 60_000;
const ESSENTIAL_MFA = JSON.stringify({ id_token: { acr: { essential: true, values: [ACR.mfa] } } });

/**
 * Step-up and MFA policy through the real pages, with openid-client validating every ID token:
 * an RP asking for `urn:gatehouse:loa:mfa` (acr_values or an essential acr claim) gets the missing factor
 * asked of a signed-in user without the password again; a client or deployment that requires MFA makes an
 * account without a factor enrol before anything is issued (MFA-08); and a two-factor session obeys the
 * AAL2 reauthentication limits (SES-04). The server's clock is frozen and moved by hand, so TOTP codes
 * never straddle a step.
 */
describe('step-up, MFA policy and AAL2 session limits', () => {
  let server: TestServer;
  let offset = 0;
  const base = Date.now();
  const clock = () => base + offset;
  const configs = new Map<string, oidc.Configuration>();

  beforeAll(async () => {
    server = await startTestServer({ DATA_DIR: 'memory://' }, { clock });
    await seedBasics(server);
    const common = { grant_types: ['authorization_code'], response_types: ['code'], redirect_uris: [REDIRECT_URI], client_secret: WEB_SECRET, first_party: true };
    await upsertClient(server.app.db, 'strict', { ...common, client_id: 'strict', client_name: 'Strict App', mfa_required: true });
  });

  afterAll(async () => {
    await server?.close();
  });

  // oidc-provider stamps auth_time from the real clock; each test starts with the two clocks together.
  beforeEach(() => {
    offset = 0;
  });

  async function configFor(clientId: string): Promise<oidc.Configuration> {
    if (!configs.has(clientId)) {
      configs.set(clientId, await oidc.discovery(new URL(server.issuer), clientId, undefined, oidc.ClientSecretBasic(WEB_SECRET), { execute: [oidc.allowInsecureRequests] }));
    }
    return configs.get(clientId)!;
  }

  /** Starts an authorization for `clientId` and follows it as far as Gatehouse goes. */
  async function authorize(ua: UserAgent, clientId: string, extra: Record<string, string> = {}) {
    const auth = await buildAuthorization(await configFor(clientId), extra);
    const { url, response } = await ua.follow(auth.url.href, server.issuer);
    return { auth, url, response, html: url.startsWith(server.issuer) ? await response.text() : '' };
  }

  /** openid-client redeems the code and validates the ID token; returns its claims. */
  async function redeem(clientId: string, auth: Authorization, landed: string) {
    const tokens = await oidc.authorizationCodeGrant(await configFor(clientId), new URL(landed), {
      pkceCodeVerifier: auth.verifier,
      expectedState: auth.state,
      expectedNonce: auth.nonce,
    });
    return tokens.claims()!;
  }

  async function passwordSignIn(ua: UserAgent, clientId: string, email: string, password = PASSWORD) {
    const auth = await buildAuthorization(await configFor(clientId));
    const landed = await signInThroughForms(ua, server.issuer, auth.url.href, email, password);
    return redeem(clientId, auth, landed.href);
  }

  /** Enrols an authenticator for an account directly and returns its secret (as if done on the account page). */
  async function enrolTotp(accountId: string, email: string): Promise<string> {
    const totp = { db: server.app.db, keyEncryptionKeys: server.config.keyEncryptionKeys, now: () => new Date(clock()) };
    const { secret } = (await startTotpEnrolment(totp, { id: accountId, email }, 'Gatehouse'))!;
    expect(await confirmTotpEnrolment(totp, accountId, await codeAt(secret))).toBe(true);
    offset += 30_000; // the next code is a fresh step
    return secret;
  }
  const codeAt = (secret: string) => generate({ secret, epoch: Math.floor(clock() / 1000) });

  /** POSTs a code to the page's `/mfa` or `/enrol` form and follows where it leads. */
  async function postCode(ua: UserAgent, page: { url: string; html: string }, path: '/mfa' | '/enrol', code: string) {
    const response = await ua.post(new URL(formAction(page.html, path), server.issuer).href, { code, csrf: inputValue(page.html, 'csrf') });
    return { status: response.status, ...(await ua.follow(page.url, server.issuer, response)) };
  }

  const errorOf = (url: string) => new URL(url).searchParams.get('error');
  const codeOf = (url: string) => new URL(url).searchParams.get('code');

  it('acr_values=mfa on a password session asks only for the code, and the ID token then says mfa', async () => {
    const account = await createAccount(server.app.db, server.app.hasher, { email: 'step.up@example.com', password: PASSWORD, emailVerified: true });
    const ua = new UserAgent();
    const first = await passwordSignIn(ua, 'house', account.email);
    expect(first.acr).toBe(ACR.password);
    expect(first.amr).toEqual(['pwd']);
    const secret = await enrolTotp(account.id, account.email);

    // prompt=none cannot raise the level: the RP hears login_required.
    const silent = await authorize(ua, 'house', { acr_values: ACR.mfa, prompt: 'none' });
    expect(errorOf(silent.url)).toBe('login_required');

    const stepUp = await authorize(ua, 'house', { acr_values: ACR.mfa });
    expect(stepUp.html).toContain('name="code"');
    expect(stepUp.html).not.toContain('name="password"');
    // MFA-06 on the step-up path too: resuming directly, before the code, issues nothing.
    const uid = /\/interaction\/([^/?#]+)/.exec(stepUp.url)![1]!;
    const resumed = await ua.follow(`${server.issuer}/auth/${uid}`, server.issuer);
    expect(resumed.url.startsWith(server.issuer)).toBe(true);

    const again = await authorize(ua, 'house', { acr_values: ACR.mfa });
    const done = await postCode(ua, again, '/mfa', await codeAt(secret));
    expect(done.status).toBe(303);
    expect(codeOf(done.url)).toBeTruthy();
    const claims = await redeem('house', again.auth, done.url);
    expect(claims.acr).toBe(ACR.mfa);
    expect(claims.amr).toEqual(['pwd', 'otp', 'mfa']);
    expect(claims.sub).toBe(first.sub);

    // The session is now two-factor: the same request is answered silently.
    const later = await authorize(ua, 'house', { acr_values: ACR.mfa, prompt: 'none' });
    expect((await redeem('house', later.auth, later.url)).acr).toBe(ACR.mfa);
  });

  it('an essential acr claim on a password session is stepped up the same way', async () => {
    const account = await createAccount(server.app.db, server.app.hasher, { email: 'essential@example.com', password: PASSWORD, emailVerified: true });
    const ua = new UserAgent();
    await passwordSignIn(ua, 'house', account.email);
    const secret = await enrolTotp(account.id, account.email);
    const stepUp = await authorize(ua, 'house', { claims: ESSENTIAL_MFA });
    expect(stepUp.html).toContain('name="code"');
    const done = await postCode(ua, stepUp, '/mfa', await codeAt(secret));
    expect((await redeem('house', stepUp.auth, done.url)).acr).toBe(ACR.mfa);
  });

  it('without a factor: voluntary acr_values get the truth (pwd); an essential acr gets unmet_authentication_requirements', async () => {
    const ua = new UserAgent();
    await passwordSignIn(ua, 'house', USER.email, USER.password);
    const voluntary = await authorize(ua, 'house', { acr_values: ACR.mfa });
    expect((await redeem('house', voluntary.auth, voluntary.url)).acr).toBe(ACR.password);

    const essential = await authorize(ua, 'house', { claims: ESSENTIAL_MFA });
    expect(errorOf(essential.url)).toBe('unmet_authentication_requirements');

    // Also when the essential request comes with the password step itself.
    const fresh = new UserAgent();
    const auth = await buildAuthorization(await configFor('house'), { claims: ESSENTIAL_MFA });
    const landed = await signInThroughForms(fresh, server.issuer, auth.url.href, USER.email, USER.password);
    expect(landed.searchParams.get('error')).toBe('unmet_authentication_requirements');
  });

  it('MFA-08: a client that requires MFA makes an account without a factor enrol before any code is issued', async () => {
    const account = await createAccount(server.app.db, server.app.hasher, { email: 'must.enrol@example.com', password: PASSWORD, emailVerified: true });
    const ua = new UserAgent();
    /** Password step for `strict`; returns the page that follows it. */
    const toEnrolment = async () => {
      const auth = await buildAuthorization(await configFor('strict'));
      const login = await ua.follow(auth.url.href, server.issuer);
      const html = await login.response.text();
      const afterPassword = await ua.post(new URL(formAction(html, '/login'), server.issuer).href, { email: account.email, password: PASSWORD, csrf: inputValue(html, 'csrf') });
      const next = await ua.follow(login.url, server.issuer, afterPassword);
      return { auth, url: next.url, html: await next.response.text() };
    };

    // Nothing is issued while the enrolment is pending: resuming directly only starts the sign-in over.
    const first = await toEnrolment();
    expect(first.html).toContain('otpauth://');
    const uid = /\/interaction\/([^/?#]+)/.exec(first.url)![1]!;
    const resumed = await ua.follow(`${server.issuer}/auth/${uid}`, server.issuer);
    expect(resumed.url.startsWith(server.issuer)).toBe(true);
    expect(await resumed.response.text()).toContain('name="password"');

    const enrol = await toEnrolment();
    const uri = /href="(otpauth:\/\/[^"]+)"/.exec(enrol.html)![1]!.replace(/&amp;/g, '&');
    const secret = new URL(uri).searchParams.get('secret')!;
    expect(secret).toMatch(/^[A-Z2-7]{32}$/); // a 160-bit seed in base32 (MFA-01)
    expect(enrol.html).toContain(first.html.match(/otpauth:[^"]+/)![0]); // a reload shows the secret already scanned

    const wrong = await postCode(ua, enrol, '/enrol', '000000');
    expect(wrong.status).toBe(400);
    const confirmed = await postCode(ua, { url: enrol.url, html: await wrong.response.text() }, '/enrol', await codeAt(secret));
    expect(confirmed.status).toBe(200);
    const codesPage = await confirmed.response.text();
    expect(codesPage.match(/<li><code>/g)).toHaveLength(10);
    const file = decodeURIComponent(/href="data:text\/plain;charset=utf-8,([^"]+)"/.exec(codesPage)![1]!);
    expect(file.trim().split('\n')).toHaveLength(11); // a header line, then the ten codes to download
    const mails = await server.app.db.selectFrom('mail_outbox').select('subject').where('recipient', '=', account.email).execute();
    expect(mails).toHaveLength(1);

    const next = await ua.post(new URL(formAction(codesPage, '/continue'), server.issuer).href, { csrf: inputValue(codesPage, 'csrf') });
    const landed = await ua.follow(enrol.url, server.issuer, next);
    const claims = await redeem('strict', enrol.auth, landed.url);
    expect(claims.acr).toBe(ACR.mfa);
    expect(claims.amr).toEqual(['pwd', 'otp', 'mfa']);
  });

  it('MFA-08: a password session meets a client that requires MFA with the factor (or enrolment), not the password', async () => {
    const ua = new UserAgent();
    await passwordSignIn(ua, 'house', USER.email, USER.password);
    const strict = await authorize(ua, 'strict');
    expect(strict.url).toMatch(/\/interaction\//);
    expect(strict.html).toContain('otpauth://');
    expect(strict.html).not.toContain('name="password"');
    const silent = await authorize(ua, 'strict', { prompt: 'none' });
    expect(errorOf(silent.url)).toBe('login_required');
  });

  it('SES-04: a two-factor session lapses after an hour idle and after 24 hours however active', async () => {
    const account = await createAccount(server.app.db, server.app.hasher, { email: 'aal2@example.com', password: PASSWORD, emailVerified: true });
    const secret = await enrolTotp(account.id, account.email);
    const ua = new UserAgent();
    const start = await authorize(ua, 'house');
    const loginHtml = start.html;
    const afterPassword = await ua.post(new URL(formAction(loginHtml, '/login'), server.issuer).href, { email: account.email, password: PASSWORD, csrf: inputValue(loginHtml, 'csrf') });
    const mfa = await ua.follow(start.url, server.issuer, afterPassword);
    const done = await postCode(ua, { url: mfa.url, html: await mfa.response.text() }, '/mfa', await codeAt(secret));
    expect((await redeem('house', start.auth, done.url)).acr).toBe(ACR.mfa);
    const signedInAt = offset;

    const silentSso = async () => {
      const attempt = await authorize(ua, 'house', { prompt: 'none' });
      return errorOf(attempt.url) ?? (codeOf(attempt.url) ? 'ok' : `stuck at ${attempt.url}`);
    };
    // Activity every 50 minutes keeps it alive...
    for (let minutes = 50; minutes < 24 * 60; minutes += 50) {
      offset = signedInAt + minutes * MINUTE;
      expect(await silentSso()).toBe('ok');
    }
    // ...but not past 24 hours from the sign-in.
    offset = signedInAt + 24 * 60 * MINUTE + MINUTE;
    expect(await silentSso()).toBe('login_required');
  });

  it('SES-04: 59 minutes idle is still silent; 61 minutes idle is not', async () => {
    const account = await createAccount(server.app.db, server.app.hasher, { email: 'idle@example.com', password: PASSWORD, emailVerified: true });
    const secret = await enrolTotp(account.id, account.email);
    const ua = new UserAgent();
    const start = await authorize(ua, 'house');
    const afterPassword = await ua.post(new URL(formAction(start.html, '/login'), server.issuer).href, { email: account.email, password: PASSWORD, csrf: inputValue(start.html, 'csrf') });
    const mfa = await ua.follow(start.url, server.issuer, afterPassword);
    await postCode(ua, { url: mfa.url, html: await mfa.response.text() }, '/mfa', await codeAt(secret));
    const signedInAt = offset;

    offset = signedInAt + 59 * MINUTE;
    const active = await authorize(ua, 'house', { prompt: 'none' });
    expect(codeOf(active.url)).toBeTruthy();
    offset = signedInAt + (59 + 61) * MINUTE;
    const idle = await authorize(ua, 'house', { prompt: 'none' });
    expect(errorOf(idle.url)).toBe('login_required');
    // A password-only session has no idle limit (AAL1): the seeded user is still signed in after the same wait.
    const other = new UserAgent();
    offset = signedInAt;
    await passwordSignIn(other, 'house', USER.email, USER.password);
    offset = signedInAt + 3 * 60 * MINUTE;
    expect(codeOf((await authorize(other, 'house', { prompt: 'none' })).url)).toBeTruthy();
  });
});

describe('MFA_REQUIRED for the whole deployment', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ DATA_DIR: 'memory://', MFA_REQUIRED: 'true' });
    await seedBasics(server);
  });

  afterAll(async () => {
    await server?.close();
  });

  it('MFA-08: every client, even one that asks nothing, sends an account without a factor to enrolment', async () => {
    const ua = new UserAgent();
    const config = await oidc.discovery(new URL(server.issuer), 'house', undefined, oidc.ClientSecretBasic(WEB_SECRET), { execute: [oidc.allowInsecureRequests] });
    const auth = await buildAuthorization(config);
    const login = await ua.follow(auth.url.href, server.issuer);
    const html = await login.response.text();
    const afterPassword = await ua.post(new URL(formAction(html, '/login'), server.issuer).href, { email: USER.email, password: USER.password, csrf: inputValue(html, 'csrf') });
    const next = await ua.follow(login.url, server.issuer, afterPassword);
    expect(next.url).toMatch(/\/interaction\//);
    expect(await next.response.text()).toContain('otpauth://');
  });
});
