import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { generate } from 'otplib';
import { pino } from 'pino';
import { createAccount } from '../../src/accounts/create-account.ts';
import { submitSecurityForm } from '../support/account-settings.ts';
import { fillForm, nextMailTo, refresh, tokenLink } from '../support/accounts.ts';
import { startTestServer, type TestServer } from '../support/app.ts';
import { formAction, inputValue, UserAgent } from '../support/browserless.ts';
import { REDIRECT_URI } from '../support/e2e.ts';
import { seedBasics, WEB_SECRET } from '../support/fixtures.ts';
import { openLoginPage, rawAuthorization, signInThroughForms, submit } from '../support/forms.ts';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink.ts';

const EMAIL = 'secret.keeper@example.com';
const PASSWORD = 'the first passphrase of the secret keeper';
const NEW_PASSWORD = 'the second passphrase after a reset';
const WRONG_PASSWORD = 'a wrong guess at the passphrase';
const basic = `Basic ${Buffer.from(`web:${WEB_SECRET}`).toString('base64')}`;

/**
 * LOG-02 (issue 7): every secret a whole journey handles stays out of the logs and the audit trail.
 * The journey runs through the real pages and endpoints with the logger capturing every line at trace
 * level: a wrong and a right password, consent, tokens (code, access, refresh, ID), userinfo,
 * introspection, a refresh and a replayed refresh token, a password reset from a mailed link, an
 * authenticator app enrolled and used, and a recovery code. Then the captured lines and every audit row
 * are searched for each secret value the test saw.
 */
describe('no secret reaches the logs or the audit trail', () => {
  let sink: SmtpSink;
  let server: TestServer;
  const lines: string[] = [];
  const secrets = new Set<string>([PASSWORD, NEW_PASSWORD, WRONG_PASSWORD, WEB_SECRET]);
  let offset = 0;
  const base = Date.now();
  const clock = () => base + offset;

  beforeAll(async () => {
    sink = await startSmtpSink();
    const logger = pino({ level: 'trace' }, { write: (line: string) => void lines.push(line) });
    server = await startTestServer({ DATA_DIR: 'memory://', SMTP_URL: sink.url }, { clock, logger });
    await seedBasics(server);
    await createAccount(server.app.db, server.app.hasher, { email: EMAIL, password: PASSWORD, emailVerified: true });
  });

  afterAll(async () => {
    await server?.close();
    await sink?.close();
  });

  /** Signs in to `web` for offline access and redeems the code; every token goes on the list. */
  async function tokensFor(ua: UserAgent, password: string, secondStep?: (html: string) => Promise<Response>) {
    const auth = rawAuthorization(server.issuer, { client_id: 'web', redirect_uri: REDIRECT_URI, scope: 'openid email offline_access', prompt: 'consent' });
    let callback: URL;
    if (secondStep) {
      const login = await openLoginPage(ua, server.issuer, auth.url);
      const afterPassword = await submit(ua, login.login, { email: EMAIL, password });
      const code = await ua.follow(login.url, server.issuer, afterPassword);
      const afterCode = await secondStep(await code.response.text());
      const afterStep = await ua.follow(code.url, server.issuer, afterCode);
      let { url } = afterStep;
      if (url.startsWith(server.issuer)) {
        const html = await afterStep.response.text();
        const consent = await ua.post(new URL(formAction(html, '/consent'), server.issuer).href, { csrf: inputValue(html, 'csrf'), decision: 'approve' });
        ({ url } = await ua.follow(url, server.issuer, consent));
      }
      callback = new URL(url);
    } else {
      callback = await signInThroughForms(ua, server.issuer, auth.url, EMAIL, password);
    }
    const code = callback.searchParams.get('code')!;
    secrets.add(code);
    const response = await fetch(`${server.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic },
      body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: auth.verifier }),
    });
    const tokens = (await response.json()) as { access_token: string; refresh_token: string; id_token: string };
    for (const value of Object.values(tokens)) if (typeof value === 'string' && value.length >= 20) secrets.add(value);
    /** The same code again: refused, and audited as token_reuse_detected (with no secret in it). */
    const replayCode = () =>
      fetch(`${server.issuer}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic },
        body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: auth.verifier }),
      });
    // The session cookie is a bearer secret; the interaction and resume cookies hold the interaction's
    // uid, which is public by design (it is in the page's URL and so in the request log).
    for (const [name, value] of ua.cookies) if (!/interaction|resume/.test(name) && value.length >= 16) secrets.add(value);
    return { ...tokens, replayCode };
  }

  it('runs the journey', async () => {
    // A wrong password, then the right one, and the tokens used every way a client uses them.
    const login = await openLoginPage(new UserAgent(), server.issuer, rawAuthorization(server.issuer, { client_id: 'web', redirect_uri: REDIRECT_URI }).url);
    expect((await submit(new UserAgent(), login.login, { email: EMAIL, password: WRONG_PASSWORD })).status).toBeGreaterThanOrEqual(400);
    const browser = new UserAgent();
    const tokens = await tokensFor(browser, PASSWORD);
    expect((await fetch(`${server.issuer}/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } })).status).toBe(200);
    const introspection = await fetch(`${server.issuer}/token/introspection`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic },
      body: new URLSearchParams({ token: tokens.access_token }),
    });
    expect(introspection.status).toBe(200);
    const refreshed = (await (await refresh(server, tokens.refresh_token)).json()) as { refresh_token: string; access_token: string };
    secrets.add(refreshed.refresh_token).add(refreshed.access_token);
    expect((await tokens.replayCode()).status).toBe(400); // the replay

    // A password reset from the mailed link.
    const seen = sink.messages.length;
    const resetter = new UserAgent();
    const forgot = await fillForm(resetter, server.issuer, '/forgot-password', { email: EMAIL });
    expect(forgot.status).toBe(200);
    const link = tokenLink(await nextMailTo(sink, server, EMAIL, seen));
    secrets.add(new URL(link).searchParams.get('token')!);
    await resetter.get(link);
    const reset = await fillForm(resetter, server.issuer, '/reset-password', { password: NEW_PASSWORD });
    expect(await reset.text()).toContain('Your password has been changed');

    // An authenticator app, enrolled on the security page and used; then a recovery code.
    const owner = new UserAgent();
    await tokensFor(owner, NEW_PASSWORD);
    const setup = await submitSecurityForm(owner, server, '/account/totp/start', { totpPassword: NEW_PASSWORD });
    const secret = new URL(/href="(otpauth:\/\/[^"]+)"/.exec(setup.html)![1]!.replace(/&amp;/g, '&')).searchParams.get('secret')!;
    secrets.add(secret);
    const code = () => generate({ secret, epoch: Math.floor(clock() / 1000) });
    const enrolCode = await code();
    secrets.add(enrolCode);
    const confirm = await owner.post(`${server.issuer}/account/totp/confirm`, { code: enrolCode, csrf: inputValue(setup.html, 'csrf') });
    const codesPage = await confirm.text();
    const recoveryCodes = [...codesPage.matchAll(/<li><code>([^<]+)<\/code>/g)].map((match) => match[1]!);
    expect(recoveryCodes).toHaveLength(10);
    for (const recovery of recoveryCodes) secrets.add(recovery);

    offset += 30_000;
    const signInCode = await code();
    secrets.add(signInCode);
    const withCode = (ua: UserAgent, value: string) => (html: string) =>
      ua.post(new URL(formAction(html, '/mfa'), server.issuer).href, { code: value, csrf: inputValue(html, 'csrf') });
    const phone = new UserAgent();
    await tokensFor(phone, NEW_PASSWORD, withCode(phone, signInCode));
    const lostPhone = new UserAgent();
    await tokensFor(lostPhone, NEW_PASSWORD, withCode(lostPhone, recoveryCodes[0]!));
    await server.app.mailer.deliverDue();
  });

  it('LOG-02: none of the journey’s secrets is in any log line or audit row', async () => {
    const auditRows = await server.app.db.selectFrom('audit_events').selectAll().execute();
    expect(auditRows.map((row) => row.type)).toEqual(expect.arrayContaining(['sign_in', 'consent_granted', 'token_reuse_detected', 'mfa_enabled', 'mfa_verify', 'recovery_code_used']));
    // The capture works: the journey's requests are in it.
    const logged = lines.join('\n');
    expect(logged).toContain('"path":"/token"');
    expect(lines.length).toBeGreaterThan(50);
    const haystack = `${logged}\n${JSON.stringify(auditRows)}`;
    const found = [...secrets].filter((secret) => haystack.includes(secret));
    expect(found).toEqual([]);
  });
});
